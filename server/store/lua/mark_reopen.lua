-- An admin reopens an examiner's sealed mark sheet with a reason: a draft again (the marks kept),
-- the rubric's count of sealed marks goes down.
-- KEYS[1] the interview's marks hash, KEYS[2] the subject's rubric hash, KEYS[3] audit stream,
-- KEYS[4] the examiner's unfinished marking (zset: an ended interview is back on it)
-- KEYS[5] the exam's results hash (locked: refused)
-- ARGV[1] examiner id, ARGV[2] reason, ARGV[3] interview id, ARGV[4] its end time ('' while not ended),
-- ARGV[5..] audit base pairs
-- Returns 'ok', 'marks_not_found' or 'marks_not_sealed'.
local examiner = ARGV[1]
if redis.call('HEXISTS', KEYS[5], 'state') == 1 then return 'results_locked' end
local state = redis.call('HGET', KEYS[1], 'state:' .. examiner)
if not state then return 'marks_not_found' end
if state ~= 'sealed' then return 'marks_not_sealed' end
redis.call('HSET', KEYS[1], 'state:' .. examiner, 'draft')
redis.call('HDEL', KEYS[1], 'sealed_at:' .. examiner)
redis.call('HINCRBY', KEYS[1], 'reopens:' .. examiner, 1)
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3]) end
if tonumber(redis.call('HGET', KEYS[2], 'sealed') or '0') > 0 then redis.call('HINCRBY', KEYS[2], 'sealed', -1) end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
audit('marks_reopened', {interview_id = ARGV[3], examiner = examiner, reason = ARGV[2]})
redis.call('HINCRBY', KEYS[5], 'changes', 1)  -- a lock computed before this change is refused
return 'ok'
