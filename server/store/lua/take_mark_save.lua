-- A grader's draft of their mark sheet (saved as they type): only on a sheet assigned to them and not sealed.
-- KEYS[1] takemark:{code}:{grader}, KEYS[2] the exam's results hash (locked: refused)
-- ARGV[1] marks JSON, ARGV[2] comment, ARGV[3] now
-- Returns 'ok' or the refusal's code.
if redis.call('HEXISTS', KEYS[2], 'state') == 1 then return 'results_locked' end
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'submission_not_found' end
if state == 'sealed' then return 'take_mark_sealed' end
redis.call('HSET', KEYS[1], 'state', 'draft', 'marks', ARGV[1], 'comment', ARGV[2], 'saved_at', ARGV[3])
return 'ok'
