-- The media side ends a take: complete (stopped by the candidate or the limit), cut (the connection was
-- lost past the grace period) or failed (nothing recorded; an upload refused, cancelled or abandoned).
-- Ending an ended take changes nothing.
-- KEYS[1] take hash, KEYS[2] sitting hash, KEYS[3] due zset, KEYS[4] practice takes zset, KEYS[5] audit
-- ARGV[1] now, ARGV[2] state, ARGV[3] length in seconds, ARGV[4..] audit base pairs
-- Returns {'ended', state}, {'same', state} (already ended) or {'err', code}.
local t = redis.call('HMGET', KEYS[1], 'state', 'id', 'sitting_id', 'mode')
if not t[1] then return {'err', 'take_not_found'} end
-- recording (streamed), uploading or processing (an upload): the states a take runs in
if t[1] ~= 'recording' and t[1] ~= 'uploading' and t[1] ~= 'processing' then return {'same', t[1]} end
local state = ARGV[2]
local counts = state == 'complete' or (state == 'cut' and redis.call('HGET', KEYS[2], 'cut_take_counts') == '1')
redis.call('HSET', KEYS[1], 'state', state, 'ended_at', ARGV[1], 'duration_s', ARGV[3], 'counts', counts and '1' or '0')
if not counts then redis.call('HINCRBY', KEYS[2], 'takes_used', -1) end
local s = redis.call('HMGET', KEYS[2], 'running', 'state', 'deadline', 'form', 'photo_time_limit_min')
if s[1] == t[2] then redis.call('HSET', KEYS[2], 'running', '') end
-- the sweep may have put the sitting off while this take was recording past the deadline: back to its
-- deadline, so the next pass decides (at once when the deadline is past)
local deadline = tonumber(s[3] or '0')
local due, photos_until = deadline, nil
if state == 'complete' and s[4] == 'artwork' then
  -- the photo time of an artwork take starts now, never past the deadline; at its end the sweep submits it
  photos_until = tonumber(ARGV[1]) + tonumber(s[5] or '0') * 60
  if deadline > 0 and deadline < photos_until then photos_until = deadline end
  redis.call('HSET', KEYS[1], 'photos_until', string.format('%.3f', photos_until))
  redis.call('HSET', KEYS[2], 'photos_take', t[2])
  if photos_until < due then due = photos_until end
end
if s[2] == 'in_progress' and deadline > 0 then
  redis.call('ZADD', KEYS[3], 'XX', string.format('%.3f', due), t[3])
end
if t[4] == 'practice' then redis.call('ZADD', KEYS[4], ARGV[1], t[2]) end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[5], '*', unpack(fields))
end
audit('take_ended', {take_id = t[2], sitting_id = t[3], state = state, duration_s = tonumber(ARGV[3]), counts = counts,
                     photo_time_ends_at = photos_until})
return {'ended', state}
