-- The candidate submits one complete take of the sitting: final ("一经上传，不得更改"). Checked and
-- written in one step, so two tabs cannot both submit (the second finds the sitting over).
-- KEYS[1] sitting hash, KEYS[2] take hash, KEYS[3] the candidate's sittings of the subject (hash),
-- KEYS[4] due zset, KEYS[5] audit stream
-- ARGV[1] now, ARGV[2] account id, ARGV[3..] audit base pairs
-- Returns 'ok' or the refusal's code.
local now = tonumber(ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'account_id', 'state', 'deadline', 'running', 'mode', 'id')
if not s[1] or s[1] ~= ARGV[2] then return 'sitting_not_found' end
if s[2] ~= 'in_progress' then return 'sitting_over' end
local deadline = tonumber(s[3] or '0')
if deadline > 0 and now >= deadline then return 'sitting_over' end
local t = redis.call('HMGET', KEYS[2], 'sitting_id', 'state', 'duration_s', 'sha256', 'id')
if not t[1] or t[1] ~= s[6] then return 'take_not_found' end
if s[4] and s[4] ~= '' then return 'take_running' end
if t[2] ~= 'complete' then return 'take_not_complete' end
-- artwork: the take goes with its photos, at least photos_min of them
local art = redis.call('HMGET', KEYS[1], 'form', 'photos_min')
local raw = redis.call('HGET', KEYS[2], 'photos')
local photos = 0
if raw and raw ~= '' then photos = #cjson.decode(raw) end
if art[1] == 'artwork' and photos < tonumber(art[2] or '1') then return 'artwork_photos_missing' end
redis.call('HSET', KEYS[1], 'state', 'submitted', 'submitted_take', t[5], 'submitted_at', ARGV[1],
           'ended_at', ARGV[1], 'ended_by', ARGV[2])
if redis.call('HGET', KEYS[3], s[5]) == s[6] then redis.call('HDEL', KEYS[3], s[5]) end
if s[5] == 'formal' then redis.call('HSET', KEYS[3], 'submission', s[6]) end
redis.call('ZREM', KEYS[4], s[6])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[5], '*', unpack(fields))
end
audit('sitting_submitted', {sitting_id = s[6], take_id = t[5], mode = s[5], duration_s = tonumber(t[3] or '0'),
                            sha256 = t[4], photos = photos})
return 'ok'
