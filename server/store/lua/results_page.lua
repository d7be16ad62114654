-- A page of an exam's results, read in one round trip (read only; server/marking/results.py): the
-- roster's ID numbers in order from a rank (SORT ... ALPHA LIMIT), and for each its roster entry, the
-- account holding it and that account's live interviews, each with its mark sheets.
-- KEYS[1] the exam's roster set
-- ARGV[1] first rank, ARGV[2] how many, ARGV[3] the exam's roster entry key prefix, ARGV[4] the ID claim
-- key prefix, ARGV[5] the candidate's interviews key prefix, ARGV[6] the interview key prefix,
-- ARGV[7] the marks key prefix (prefixes from store/keys.py: the id is appended)
-- Returns {{ID number, entry fields, holder ('' for none), {interview fields, marks fields, ...}}, ...}.
local numbers = redis.call('SORT', KEYS[1], 'ALPHA', 'LIMIT', ARGV[1], ARGV[2])
local out = {}
for _, number in ipairs(numbers) do
  local entry = redis.call('HGETALL', ARGV[3] .. number)
  local holder = redis.call('GET', ARGV[4] .. number) or ''
  local interviews = {}
  if holder ~= '' then
    for _, id in ipairs(redis.call('ZRANGE', ARGV[5] .. holder, 0, -1)) do
      interviews[#interviews + 1] = redis.call('HGETALL', ARGV[6] .. id)
      interviews[#interviews + 1] = redis.call('HGETALL', ARGV[7] .. id)
    end
  end
  out[#out + 1] = {number, entry, holder, interviews}
end
return out
