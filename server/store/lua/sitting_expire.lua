-- The deadline of a sitting has passed: its most recent complete take is submitted (auto_submitted,
-- 004_*: "倒计时耗尽而未提交…系统将自动提交"), or with none it is absent. Before the deadline, an artwork
-- sitting whose last take's photo time has ended is submitted with that take (reason photo_limit). A
-- take still recording at the deadline is waited for (its media stops it at the deadline) for ARGV[3]
-- seconds, an upload being made playable until its processing limit; if it ends complete by then it
-- may be the one submitted, after that it is not complete and is passed over.
-- KEYS[1] sitting hash, KEYS[2] the sitting's takes zset, KEYS[3] the candidate's sittings of the
-- subject (hash), KEYS[4] due zset, KEYS[5] audit stream
-- ARGV[1] now, ARGV[2] take key prefix, ARGV[3] seconds to wait for a take recording at the deadline,
-- ARGV[4] sitting id, ARGV[5..] audit base pairs
-- Returns {'auto_submitted', take}, {'absent', ''}, {'wait', ''}, {'early', ''} or {'gone', ''}.
local now = tonumber(ARGV[1])
local id = ARGV[4]
local s = redis.call('HMGET', KEYS[1], 'state', 'deadline', 'running', 'mode', 'form', 'photos_take', 'takes_total')
if s[1] ~= 'in_progress' then
  redis.call('ZREM', KEYS[4], id)
  return {'gone', ''}
end
local deadline = tonumber(s[2] or '0')
if deadline <= 0 then
  redis.call('ZREM', KEYS[4], id)
  return {'gone', ''}
end
local best, length, digest, reason = nil, 0, '', 'deadline'
if now < deadline then
  -- artwork: the photo time of the sitting's last take (nothing started after it) ends: that take is
  -- submitted with the photos uploaded so far
  local due = deadline
  if s[5] == 'artwork' and s[6] and s[6] ~= '' then
    local t = redis.call('HMGET', ARGV[2] .. s[6], 'state', 'number', 'photos_until', 'duration_s', 'sha256')
    if t[1] == 'complete' and tonumber(t[2] or '0') == tonumber(s[7] or '0') then
      local photos_until = tonumber(t[3] or '0')
      if photos_until > 0 and now >= photos_until then
        best, length, digest, reason = s[6], tonumber(t[4] or '0'), t[5] or '', 'photo_limit'
      elseif photos_until > 0 and photos_until < due then
        due = photos_until
      end
    end
  end
  if not best then
    redis.call('ZADD', KEYS[4], due, id)
    return {'early', ''}
  end
else
  local running = {}
  if s[3] and s[3] ~= '' then running = redis.call('HMGET', ARGV[2] .. s[3], 'state', 'stop_at') end
  if running[1] == 'recording' or running[1] == 'processing' then
    local give_up = deadline + tonumber(ARGV[3])
    -- an upload received before the deadline is being made playable: waited for until its stop_at
    -- (the upload's processing limit), so a file sent in time can still be the one submitted
    if running[1] == 'processing' then give_up = math.max(give_up, tonumber(running[2] or '0')) end
    if now < give_up then
      redis.call('ZADD', KEYS[4], give_up, id)
      return {'wait', ''}
    end
  end
  for _, take in ipairs(redis.call('ZREVRANGE', KEYS[2], 0, -1)) do
    local t = redis.call('HMGET', ARGV[2] .. take, 'state', 'duration_s', 'sha256')
    if t[1] == 'complete' then
      best, length, digest = take, tonumber(t[2] or '0'), t[3] or ''
      break
    end
  end
end
local mode = s[4]
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[5], '*', unpack(fields))
end
local state = 'absent'
if best then
  state = 'auto_submitted'
  local raw = redis.call('HGET', ARGV[2] .. best, 'photos')
  local photos = 0
  if raw and raw ~= '' then photos = #cjson.decode(raw) end
  redis.call('HSET', KEYS[1], 'submitted_take', best, 'submitted_at', ARGV[1], 'end_reason', reason)
  if mode == 'formal' then redis.call('HSET', KEYS[3], 'submission', id) end
  audit('sitting_auto_submitted', {sitting_id = id, take_id = best, mode = mode, duration_s = length, sha256 = digest,
                                   reason = reason, photos = photos})
else
  audit('sitting_absent', {sitting_id = id, mode = mode})
end
redis.call('HSET', KEYS[1], 'state', state, 'ended_at', ARGV[1], 'ended_by', 'system')
if redis.call('HGET', KEYS[3], mode) == id then redis.call('HDEL', KEYS[3], mode) end
redis.call('ZREM', KEYS[4], id)
return {state, best or ''}
