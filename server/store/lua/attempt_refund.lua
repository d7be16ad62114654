-- Give an attempt back to counters (it succeeded, so it was no guess): DECR each counter that
-- still exists and is above zero, keeping its window. KEYS[i] counter i.
for i = 1, #KEYS do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
