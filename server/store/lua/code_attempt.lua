-- Count one attempt at a contact code. KEYS[1] the code's hash; ARGV[1] attempts allowed per code.
-- Returns nil when there is no code (expired, used, voided, never issued) or its attempts are spent
-- (the code is deleted then), else {digest, salt, account, attempt number}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return nil
end
local n = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if n > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return nil
end
local v = redis.call('HMGET', KEYS[1], 'digest', 'salt', 'account')
return {v[1] or '', v[2] or '', v[3] or '', n}
