-- Record one enrolment step (first time only) with its audit entry.
-- KEYS[1] enrolment hash, KEYS[2] audit stream
-- ARGV[1] step field, ARGV[2] now, ARGV[3] exam id, ARGV[4] account id,
-- ARGV[5] extra field ('' for none), ARGV[6] extra value, ARGV[7..] audit pairs
-- Returns 1 when the step is new, 0 when it was already done.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'exam_id', ARGV[3], 'account_id', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], ARGV[5], ARGV[6]) end
local audit = {}
for i = 7, #ARGV do audit[#audit + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], '*', unpack(audit))
return 1
