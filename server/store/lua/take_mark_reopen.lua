-- An admin reopens a sealed mark sheet with a reason: it becomes a draft of its grader again, audited.
-- KEYS[1] takemark:{code}:{grader}, KEYS[2] rubric:{subject}, KEYS[3] audit stream,
-- KEYS[4] the exam's results hash (locked: refused)
-- ARGV[1] reason, ARGV[2] now, ARGV[3] code, ARGV[4] grader id, ARGV[5..] audit base pairs
-- Returns 'ok' or the refusal's code.
if redis.call('HEXISTS', KEYS[4], 'state') == 1 then return 'results_locked' end
local s = redis.call('HMGET', KEYS[1], 'state', 'total')
if not s[1] then return 'take_mark_not_found' end
if s[1] ~= 'sealed' then return 'take_mark_not_sealed' end
redis.call('HSET', KEYS[1], 'state', 'draft', 'reopened_at', ARGV[2], 'reopen_reason', ARGV[1])
redis.call('HDEL', KEYS[1], 'sealed_at', 'total')
redis.call('HINCRBY', KEYS[2], 'sealed', -1)
local entry = {}
for i = 5, #ARGV do entry[#entry + 1] = ARGV[i] end
entry[#entry + 1] = 'event'
entry[#entry + 1] = 'take_mark_reopened'
entry[#entry + 1] = 'data'
entry[#entry + 1] = cjson.encode({code = ARGV[3], grader = ARGV[4], reason = ARGV[1], total = tonumber(s[2])})
redis.call('XADD', KEYS[3], '*', unpack(entry))
redis.call('HINCRBY', KEYS[4], 'changes', 1)  -- a lock computed before this change is refused
return 'ok'
