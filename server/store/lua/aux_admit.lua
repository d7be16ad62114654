-- Admit a device on an auxiliary-camera token: at most ARGV[2] different devices, ever.
-- KEYS[1] auxtoken:{token} set; ARGV[1] device id, ARGV[2] limit, ARGV[3] seconds until the token expires
-- Returns 1 when the device may use the token, 0 when the token is used up.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
