-- The admin publishes an exam's locked results: candidates see their own from now on. Only when
-- locked, once. Audited results_published.
-- KEYS[1] results:{exam}, KEYS[2] audit stream
-- ARGV[1] now, ARGV[2] actor id, ARGV[3..] audit base pairs
-- Returns 'ok', 'results_not_locked' or 'results_published'.
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'published' then return 'results_published' end
if state ~= 'locked' then return 'results_not_locked' end
redis.call('HSET', KEYS[1], 'state', 'published', 'published_at', ARGV[1], 'published_by', ARGV[2])
local entry = {}
for i = 3, #ARGV do entry[#entry + 1] = ARGV[i] end
entry[#entry + 1] = 'event'
entry[#entry + 1] = 'results_published'
entry[#entry + 1] = 'data'
entry[#entry + 1] = cjson.encode({at = tonumber(ARGV[1])})
redis.call('XADD', KEYS[2], '*', unpack(entry))
return 'ok'
