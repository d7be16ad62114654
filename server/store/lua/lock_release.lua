-- Release a lock: delete KEYS[1] only if it still holds ARGV[1], the owner's token
-- (a lock that expired and was taken by someone else is left alone).
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
