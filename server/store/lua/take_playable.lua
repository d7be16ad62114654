-- The media side has written a take's playable files (remuxed, never re-encoded) with their sha256.
-- KEYS[1] take hash, KEYS[2] audit stream
-- ARGV[1] now, ARGV[2] files (JSON: name -> {sha256, size, duration_s}), ARGV[3] sha256 of playable.webm,
-- ARGV[4] its length in seconds (the file's, replacing the media's count; '' when unknown),
-- ARGV[5..] audit base pairs
-- Returns 'ok' or the refusal's code.
local t = redis.call('HMGET', KEYS[1], 'id', 'sitting_id')
if not t[1] then return 'take_not_found' end
redis.call('HSET', KEYS[1], 'files', ARGV[2], 'sha256', ARGV[3], 'playable_at', ARGV[1])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'duration_s', ARGV[4]) end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[2], '*', unpack(fields))
end
audit('take_playable', {take_id = t[1], sitting_id = t[2], sha256 = ARGV[3]})
return 'ok'
