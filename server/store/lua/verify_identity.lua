-- Bind an ID number to one account, once.
-- KEYS[1] idclaim:{id}, KEYS[2] account hash, KEYS[3] login:idnum:{id}, KEYS[4] audit stream
-- ARGV[1] id number, ARGV[2] account id, ARGV[3] name, ARGV[4] now, ARGV[5..] audit pairs
-- Returns 'ok', 'already' (this account is verified), 'gone' (the account was deleted meanwhile:
-- an unverified account that expired), 'staff' (not a candidate account: a staff account never holds a
-- candidate's ID number, server/exams/staff.py) or 'claimed:<other account id>'.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return 'gone'
end
if redis.call('HGET', KEYS[2], 'role') ~= 'candidate' then
  return 'staff'
end
local verified = redis.call('HGET', KEYS[2], 'verified_at')
if verified and verified ~= '' and tonumber(verified) > 0 then
  return 'already'
end
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[2] then
  return 'claimed:' .. owner
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[2], 'id_number', ARGV[1], 'name', ARGV[3], 'verified_at', ARGV[4])
local audit = {}
for i = 5, #ARGV do audit[#audit + 1] = ARGV[i] end
redis.call('XADD', KEYS[4], '*', unpack(audit))
return 'ok'
