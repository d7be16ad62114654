-- Take one from several fixed-window counters at once, or from none: a request passes only when every
-- counter is below its limit, and a refused request counts nowhere. Counting before the attempt is
-- evaluated is what makes N concurrent attempts evaluate at most the limit.
-- KEYS[i] counter i; ARGV[2i-1] its limit, ARGV[2i] its window in seconds.
-- Returns 0 when taken, else {i, seconds until counter i's window ends} for the full counter whose
-- window ends last (the wait that really applies).
local full, wait = 0, -1
for i = 1, #KEYS do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('TTL', KEYS[i])
    if ttl < 0 then
      redis.call('EXPIRE', KEYS[i], ARGV[2 * i])
      ttl = tonumber(ARGV[2 * i])
    end
    if ttl > wait then full, wait = i, ttl end
  end
end
if full > 0 then return {full, wait} end
for i = 1, #KEYS do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 or redis.call('TTL', KEYS[i]) < 0 then
    redis.call('EXPIRE', KEYS[i], ARGV[2 * i])
  end
end
return 0
