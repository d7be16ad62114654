-- An examiner seals their mark sheet of an interview (complete marks, checked against the rubric by
-- the caller): immutable afterwards. Checked and written in one step, so a double seal (two tabs, a
-- double click) is refused, and two examiners sealing at the same instant each succeed once. The
-- rubric's count of sealed marks goes up (it cannot change while one exists).
-- KEYS[1] the interview's marks hash, KEYS[2] the subject's rubric hash, KEYS[3] audit stream,
-- KEYS[4] the examiner's unfinished marking (zset: the interview leaves it)
-- KEYS[5] the exam's results hash (locked: refused)
-- ARGV as mark_save.lua.
-- Returns 'ok' or the refusal's code ('marks_excused': an admin excused the examiner, mark_excuse.lua).
local examiner = ARGV[1]
if redis.call('HEXISTS', KEYS[5], 'state') == 1 then return 'results_locked' end
if redis.call('HGET', KEYS[1], 'state:' .. examiner) == 'sealed' then return 'marks_sealed' end
if redis.call('HEXISTS', KEYS[1], 'excused:' .. examiner) == 1 then return 'marks_excused' end
if (redis.call('HGET', KEYS[2], 'version') or '') ~= ARGV[3] then return 'rubric_changed' end
redis.call('HSET', KEYS[1], 'sheet:' .. examiner, ARGV[2], 'state:' .. examiner, 'sealed',
           'sealed_at:' .. examiner, ARGV[4])
redis.call('HINCRBY', KEYS[2], 'sealed', 1)
redis.call('ZREM', KEYS[4], ARGV[7])
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
audit('marks_sealed', {interview_id = ARGV[7], examiner = examiner, marks = cjson.decode(ARGV[5]),
                       total = tonumber(ARGV[6]), comment = ARGV[8]})
redis.call('HINCRBY', KEYS[5], 'changes', 1)  -- a lock computed before this change is refused
return 'ok'
