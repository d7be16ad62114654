-- The room-entry face check of an interview changes state (facecheck/room_checks.py), with its
-- audit entry, unless its present state forbids it: checked and written in one step, so two
-- examiners clicking "重新核验" at once start one check, and an override never lands on a check
-- that is running or already verified.
-- KEYS[1] the check's hash (roomcheck:{interview}), KEYS[2] the exam's audit stream
-- ARGV[1] states that refuse, comma-separated (',checking,verified,'; '' for none), ARGV[2] the refusal's code,
-- ARGV[3] how many field/value pairs follow, then the pairs, then the audit entry's flat fields
-- (none: no audit entry).
-- Returns {'ok'} or {code, present state}.
local present = redis.call('HGET', KEYS[1], 'state') or ''
if ARGV[1] ~= '' and string.find(ARGV[1], ',' .. present .. ',', 1, true) then return {ARGV[2], present} end
local pairs_n = tonumber(ARGV[3])
local fields = {}
for i = 4, 3 + 2 * pairs_n do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
local entry = {}
for i = 4 + 2 * pairs_n, #ARGV do entry[#entry + 1] = ARGV[i] end
if #entry > 0 then redis.call('XADD', KEYS[2], '*', unpack(entry)) end
return {'ok', present}
