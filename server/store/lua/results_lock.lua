-- The admin locks an exam's results: from now on every save, seal and reopening of a mark of the exam
-- is refused (the marking scripts read this hash's state). Once only. Audited results_locked.
-- KEYS[1] results:{exam}, KEYS[2] audit stream
-- ARGV[1] now, ARGV[2] actor id, ARGV[3] candidates on the roster, ARGV[4] the marks' change counter when
-- the results were checked for pending marks (every seal, reopening and excuse and every new interview
-- counts one: a change since then could have made a mark pending), ARGV[5..] audit base pairs
-- Returns 'ok', 'results_already_locked', 'results_published' or 'results_changed'.
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'published' then return 'results_published' end
if state then return 'results_already_locked' end
if (redis.call('HGET', KEYS[1], 'changes') or '0') ~= ARGV[4] then return 'results_changed' end
redis.call('HSET', KEYS[1], 'state', 'locked', 'locked_at', ARGV[1], 'locked_by', ARGV[2])
local entry = {}
for i = 5, #ARGV do entry[#entry + 1] = ARGV[i] end
entry[#entry + 1] = 'event'
entry[#entry + 1] = 'results_locked'
entry[#entry + 1] = 'data'
entry[#entry + 1] = cjson.encode({at = tonumber(ARGV[1]), candidates = tonumber(ARGV[3])})
redis.call('XADD', KEYS[2], '*', unpack(entry))
return 'ok'
