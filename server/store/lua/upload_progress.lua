-- Bytes of an upload take are on disk: its confirmed offset moves to ARGV[3] (a resume starts there),
-- for the writer holding the upload's lock only, while the take is uploading and its sitting in
-- progress before the deadline. The last byte makes the take 'processing' (made playable next; its
-- stop_at becomes the processing's limit, which the deadline sweep waits for) with its audit entry.
-- KEYS[1] take hash, KEYS[2] the upload's lock, KEYS[3] sitting hash, KEYS[4] uploads due zset,
-- KEYS[5] audit stream
-- ARGV[1] now, ARGV[2] the writer's token, ARGV[3] the new offset, ARGV[4] the lock's time to live (ms),
-- ARGV[5] seconds without bytes after which the upload is abandoned, ARGV[6] seconds the processing
-- may take, ARGV[7] seconds a processing lease lasts, ARGV[8..] audit base pairs
-- Returns 'ok', 'received' (the last byte: now processing) or the refusal's code.
local now = tonumber(ARGV[1])
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 'upload_busy' end
local t = redis.call('HMGET', KEYS[1], 'state', 'upload_length', 'sitting_id', 'id')
if t[1] ~= 'uploading' then return 'upload_over' end
local s = redis.call('HMGET', KEYS[3], 'state', 'deadline')
local deadline = tonumber(s[2] or '0')
if s[1] ~= 'in_progress' or (deadline > 0 and now >= deadline) then return 'upload_sitting_over' end
local offset = tonumber(ARGV[3])
local length = tonumber(t[2] or '0')
if offset > length then return 'upload_exceeds_length' end
redis.call('HSET', KEYS[1], 'upload_offset', offset, 'upload_touched_at', ARGV[1])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
if offset < length then
  redis.call('ZADD', KEYS[4], string.format('%.3f', now + tonumber(ARGV[5])), t[4])
  return 'ok'
end
redis.call('HSET', KEYS[1], 'state', 'processing', 'stop_at', string.format('%.3f', now + tonumber(ARGV[6])))
redis.call('ZADD', KEYS[4], string.format('%.3f', now + tonumber(ARGV[7])), t[4])
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'event'
fields[#fields + 1] = 'take_uploaded'
fields[#fields + 1] = 'data'
fields[#fields + 1] = cjson.encode({take_id = t[4], sitting_id = t[3], size = length})
redis.call('XADD', KEYS[5], '*', unpack(fields))
return 'received'
