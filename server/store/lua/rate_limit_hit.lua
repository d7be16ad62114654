-- Count one failure in a fixed window. KEYS[1] counter, ARGV[1] window seconds.
-- Returns {count, seconds left in the window}.
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return {n, redis.call('TTL', KEYS[1])}
