-- Record one face-check result; the 3-strikes rule lives here so that it holds across processes.
-- KEYS[1] face state hash, KEYS[2] checks list, KEYS[3] audit stream, KEYS[4] review hash,
-- KEYS[5] open reviews zset
-- ARGV[1] '1' passed / '0' failed, ARGV[2] now, ARGV[3] strikes limit, ARGV[4] reason, ARGV[5] distance,
-- ARGV[6] check id, ARGV[7] check record (JSON), ARGV[8] review id (used if this failure locks),
-- ARGV[9] review record (JSON object of fields), ARGV[10] kind (queue | room), ARGV[11..] audit base pairs
-- Returns {outcome, strikes}: outcome 'passed' | 'failed' | 'locked' | 'already_locked'.
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'locked' or status == 'rejected' then
  return {'already_locked', tonumber(redis.call('HGET', KEYS[1], 'strikes') or '0')}
end
redis.call('LPUSH', KEYS[2], ARGV[7])
local function audit(event, extra)
  local fields = {}
  for i = 11, #ARGV do fields[#fields + 1] = ARGV[i] end
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = extra
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
local detail = cjson.encode({check_id = ARGV[6], reason = ARGV[4], distance = tonumber(ARGV[5]), kind = ARGV[10]})
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'status', 'passed', 'strikes', 0, 'streak', '[]', 'passed_at', ARGV[2],
             'last_check', ARGV[6], 'last_reason', '', 'last_at', ARGV[2])
  audit('face_check_passed', detail)
  return {'passed', 0}
end
local strikes = redis.call('HINCRBY', KEYS[1], 'strikes', 1)
local streak = cjson.decode(redis.call('HGET', KEYS[1], 'streak') or '[]')
streak[#streak + 1] = ARGV[6]
redis.call('HSET', KEYS[1], 'status', 'failed', 'streak', cjson.encode(streak), 'last_check', ARGV[6],
           'last_reason', ARGV[4], 'last_at', ARGV[2])
audit('face_check_failed', detail)
if strikes < tonumber(ARGV[3]) then
  return {'failed', strikes}
end
local review = cjson.decode(ARGV[9])
review['check_ids'] = cjson.encode(streak)
local fields = {}
for k, v in pairs(review) do fields[#fields + 1] = k; fields[#fields + 1] = v end
redis.call('HSET', KEYS[4], unpack(fields))
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[8])
redis.call('HSET', KEYS[1], 'status', 'locked', 'review_id', ARGV[8])
audit('face_review_opened', cjson.encode({review_id = ARGV[8], strikes = strikes}))
return {'locked', strikes}
