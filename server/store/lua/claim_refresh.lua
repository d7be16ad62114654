-- Keep a room's media claim KEYS[1] for process ARGV[1] for ARGV[2] more seconds, unless another
-- process holds it now (then it is left alone). Returns the holder.
local holder = redis.call("GET", KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[1], "EX", tonumber(ARGV[2]))
  return ARGV[1]
end
return holder
