-- A grader seals their mark sheet ("提交评分"): complete marks, checked against the rubric version given;
-- immutable afterwards (only an admin reopens it). The rubric's sealed count goes up with it, so the rubric
-- cannot change while a sealed mark exists (server/marking/rubrics.py).
-- KEYS[1] takemark:{code}:{grader}, KEYS[2] rubric:{subject}, KEYS[3] audit stream,
-- KEYS[4] the exam's results hash (locked: refused)
-- ARGV[1] marks JSON, ARGV[2] comment, ARGV[3] total, ARGV[4] now, ARGV[5] rubric version,
-- ARGV[6] code, ARGV[7..] audit base pairs
-- Returns 'ok' or the refusal's code.
if redis.call('HEXISTS', KEYS[4], 'state') == 1 then return 'results_locked' end
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'submission_not_found' end
if state == 'sealed' then return 'take_mark_sealed' end
if (redis.call('HGET', KEYS[2], 'version') or '0') ~= ARGV[5] then return 'rubric_changed' end
redis.call('HSET', KEYS[1], 'state', 'sealed', 'marks', ARGV[1], 'comment', ARGV[2], 'total', ARGV[3],
           'saved_at', ARGV[4], 'sealed_at', ARGV[4])
redis.call('HINCRBY', KEYS[2], 'sealed', 1)
local entry = {}
for i = 7, #ARGV do entry[#entry + 1] = ARGV[i] end
entry[#entry + 1] = 'event'
entry[#entry + 1] = 'take_mark_sealed'
entry[#entry + 1] = 'data'
entry[#entry + 1] = cjson.encode({code = ARGV[6], marks = cjson.decode(ARGV[1]), total = tonumber(ARGV[3])})
redis.call('XADD', KEYS[3], '*', unpack(entry))
redis.call('HINCRBY', KEYS[4], 'changes', 1)  -- a lock computed before this change is refused
return 'ok'
