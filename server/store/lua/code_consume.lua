-- Delete a contact code if it is still the one that was checked (a newer code is left alone).
-- KEYS[1] the code's hash; ARGV[1] the digest that was checked. Returns 1 for the one caller that
-- deleted it, 0 for everyone else (a replayed or concurrent use of the same code).
if redis.call('HGET', KEYS[1], 'digest') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
