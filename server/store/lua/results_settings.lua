-- The admin sets the school's published wording of an exam's results (checked by the caller): refused
-- once published, and a check-and-set: refused when the settings changed since the caller read them
-- (another admin saved meanwhile), so no save silently undoes another. Audited results_settings.
-- KEYS[1] results:{exam}, KEYS[2] audit stream
-- ARGV[1] settings JSON, ARGV[2] the settings_version the caller read, ARGV[3..] audit base pairs
-- Returns 'ok', 'results_published' or 'results_settings_conflict'.
if redis.call('HGET', KEYS[1], 'state') == 'published' then return 'results_published' end
if (redis.call('HGET', KEYS[1], 'settings_version') or '0') ~= ARGV[2] then return 'results_settings_conflict' end
local version = redis.call('HINCRBY', KEYS[1], 'settings_version', 1)
redis.call('HSET', KEYS[1], 'settings', ARGV[1])
local entry = {}
for i = 3, #ARGV do entry[#entry + 1] = ARGV[i] end
entry[#entry + 1] = 'event'
entry[#entry + 1] = 'results_settings'
entry[#entry + 1] = 'data'
entry[#entry + 1] = cjson.encode({settings = cjson.decode(ARGV[1]), version = version})
redis.call('XADD', KEYS[2], '*', unpack(entry))
return 'ok'
