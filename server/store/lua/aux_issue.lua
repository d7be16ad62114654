-- Make the candidate's auxiliary-camera codes belong to this session: a code made by another
-- session (a new login) starts a new generation, which voids every older code.
-- KEYS[1] aux:{exam}:{account} hash; ARGV[1] session key hash, ARGV[2] seconds to keep the hash
-- Returns the generation the new code carries.
local gen
if redis.call('HGET', KEYS[1], 'session') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'session', ARGV[1])
  gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
else
  gen = redis.call('HINCRBY', KEYS[1], 'gen', 0)
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return gen
