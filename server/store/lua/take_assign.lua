-- Assign a recorded submission (by its anonymous code) to graders of its subject until it has ARGV[1]
-- of them: the least loaded graders of the subject (load counted per subject), ties broken at random
-- (sha1 of a random seed and the grader), never one already assigned to it. One script, so processes
-- assigning at once can neither double-assign nor break the balance.
-- KEYS[1] takemarks:{code}, KEYS[2] subject graders (set), KEYS[3] subject load (hash),
-- KEYS[4] subject codes (zset), KEYS[5] audit stream, KEYS[6] sheet key prefix (append the grader),
-- KEYS[7] grader queue prefix (append the grader), KEYS[8] anon:codes (code -> sitting), KEYS[9] sitting key
-- prefix (append the sitting id): a submission withdrawn meanwhile (its sitting reset) is not assigned
-- ARGV[1] graders wanted, ARGV[2] now, ARGV[3] seed, ARGV[4] exam id, ARGV[5] subject id,
-- ARGV[6] code, ARGV[7] round (first | third), ARGV[8..] audit base pairs
-- Returns {outcome, graders JSON}: outcome 'ok' (nothing to do or all wanted assigned), 'short'
-- (fewer graders left than wanted: those there are were assigned) or 'gone' (no submission any more).
local want = tonumber(ARGV[1])
local sitting = redis.call('HGET', KEYS[8], ARGV[6])
if not sitting then return {'gone', '[]'} end
local st = redis.call('HMGET', KEYS[9] .. sitting, 'state', 'mode')
if st[2] ~= 'formal' or (st[1] ~= 'submitted' and st[1] ~= 'auto_submitted') then return {'gone', '[]'} end
local now = ARGV[2]
local raw = redis.call('HGET', KEYS[1], 'graders')
local graders = {}
if raw and raw ~= '' then graders = cjson.decode(raw) end
if #graders >= want then
  if ARGV[7] == 'third' then redis.call('HDEL', KEYS[1], 'third_missing') end
  return {'ok', raw or '[]'}
end
local taken = {}
for _, g in ipairs(graders) do taken[g] = true end
local pool = {}
for _, g in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not taken[g] then
    local load = tonumber(redis.call('HGET', KEYS[3], g) or '0')
    pool[#pool + 1] = {g = g, load = load, rank = redis.sha1hex(ARGV[3] .. g)}
  end
end
table.sort(pool, function(a, b)
  if a.load ~= b.load then return a.load < b.load end
  return a.rank < b.rank
end)
local need = want - #graders
local added = {}
for i = 1, math.min(need, #pool) do
  local g = pool[i].g
  graders[#graders + 1] = g
  added[#added + 1] = g
  redis.call('HINCRBY', KEYS[3], g, 1)
  redis.call('HSET', KEYS[6] .. g, 'state', 'assigned', 'assigned_at', now, 'round', ARGV[7])
  redis.call('ZADD', KEYS[7] .. g, now, ARGV[6])
end
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  local entry = {}
  for _, f in ipairs(fields) do entry[#entry + 1] = f end
  entry[#entry + 1] = 'event'
  entry[#entry + 1] = event
  entry[#entry + 1] = 'data'
  entry[#entry + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[5], '*', unpack(entry))
end
local encoded = '[]'
if #graders > 0 then encoded = cjson.encode(graders) end
if #added > 0 then
  redis.call('HSET', KEYS[1], 'graders', encoded, 'exam_id', ARGV[4], 'subject_id', ARGV[5], 'code', ARGV[6])
  redis.call('HSETNX', KEYS[1], 'created_at', now)
  redis.call('ZADD', KEYS[4], 'NX', now, ARGV[6])
  audit('take_marks_assigned', {code = ARGV[6], subject_id = ARGV[5], graders = added, round = ARGV[7]})
end
if #added < need then
  if ARGV[7] == 'third' and redis.call('HSETNX', KEYS[1], 'third_missing', now) == 1 then
    audit('take_third_missing', {code = ARGV[6], subject_id = ARGV[5]})
  end
  return {'short', encoded}
end
if ARGV[7] == 'third' then redis.call('HDEL', KEYS[1], 'third_missing') end
return {'ok', encoded}
