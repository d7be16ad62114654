-- An admin replaces a subject's rubric: refused while a sealed mark of the subject exists (the
-- mark scripts keep the count in the rubric's 'sealed' field), written with its audit entry otherwise.
-- KEYS[1] rubric hash, KEYS[2] audit stream
-- ARGV[1] criteria JSON, ARGV[2] step, ARGV[3] combine, ARGV[4] markers, ARGV[5] gap, ARGV[6] now,
-- ARGV[7] actor id, ARGV[8] audit data JSON, ARGV[9..] audit base pairs
-- Returns the new version (as a string) or 'rubric_in_use'.
if tonumber(redis.call('HGET', KEYS[1], 'sealed') or '0') > 0 then return 'rubric_in_use' end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'criteria', ARGV[1], 'step', ARGV[2], 'combine', ARGV[3], 'markers', ARGV[4],
           'gap', ARGV[5], 'updated_at', ARGV[6], 'updated_by', ARGV[7])
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'event'
fields[#fields + 1] = 'rubric_set'
fields[#fields + 1] = 'data'
fields[#fields + 1] = ARGV[8]
redis.call('XADD', KEYS[2], '*', unpack(fields))
return tostring(version)
