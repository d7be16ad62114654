-- The admin sets the school's published wording of an exam's results (checked by the caller):
-- refused once published. Audited results_settings.
-- KEYS[1] results:{exam}, KEYS[2] audit stream
-- ARGV[1] settings JSON, ARGV[2..] audit base pairs
-- Returns 'ok' or 'results_published'.
if redis.call('HGET', KEYS[1], 'state') == 'published' then return 'results_published' end
redis.call('HSET', KEYS[1], 'settings', ARGV[1])
local entry = {}
for i = 2, #ARGV do entry[#entry + 1] = ARGV[i] end
entry[#entry + 1] = 'event'
entry[#entry + 1] = 'results_settings'
entry[#entry + 1] = 'data'
entry[#entry + 1] = cjson.encode({settings = cjson.decode(ARGV[1])})
redis.call('XADD', KEYS[2], '*', unpack(entry))
return 'ok'
