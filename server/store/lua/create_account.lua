-- Create an account only if none of its login names is taken.
-- KEYS[1] account hash, KEYS[2] role set, KEYS[3] audit stream, KEYS[4..] login-name keys
-- ARGV[1] account id, ARGV[2] number of hash field/value pairs, then the pairs,
-- then the audit entry's field/value pairs.
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return i - 3
  end
end
local n = tonumber(ARGV[2])
local hash = {}
for i = 3, 2 + 2 * n do hash[#hash + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(hash))
redis.call('SADD', KEYS[2], ARGV[1])
for i = 4, #KEYS do redis.call('SET', KEYS[i], ARGV[1]) end
local audit = {}
for i = 3 + 2 * n, #ARGV do audit[#audit + 1] = ARGV[i] end
redis.call('XADD', KEYS[3], '*', unpack(audit))
return 0
