-- Change one login name (phone or email) of an account, if the new one is free.
-- KEYS[1] account hash, KEYS[2] new login-name key, KEYS[3] old login-name key (or the new one again
-- when the account had none), KEYS[4] audit stream.
-- ARGV[1] account id, ARGV[2] field (phone | email), ARGV[3] new value, ARGV[4] proven-at time,
-- then the audit entry's field/value pairs.
-- Returns 1 when the new name belongs to another account (nothing written), else 0.
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then
  return 1
end
if KEYS[3] ~= KEYS[2] and redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3], 'contact_verified_at', ARGV[4])
local audit = {}
for i = 5, #ARGV do audit[#audit + 1] = ARGV[i] end
redis.call('XADD', KEYS[4], '*', unpack(audit))
return 0
