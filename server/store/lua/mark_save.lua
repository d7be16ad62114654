-- An examiner saves the draft of their mark sheet of an interview (partial marks, checked against
-- the rubric by the caller): refused once sealed, or when the rubric changed since it was checked.
-- KEYS[1] the interview's marks hash, KEYS[2] the subject's rubric hash, KEYS[3] audit stream
-- KEYS[4] unused here, KEYS[5] the exam's results hash (locked: refused)
-- ARGV[1] examiner id, ARGV[2] sheet JSON, ARGV[3] rubric version checked against, ARGV[4] now,
-- ARGV[5] marks JSON, ARGV[6] total, ARGV[7] interview id, ARGV[8] comment, ARGV[9..] audit base pairs
-- Returns 'ok' or the refusal's code ('marks_excused': an admin excused the examiner, mark_excuse.lua).
local examiner = ARGV[1]
if redis.call('HEXISTS', KEYS[5], 'state') == 1 then return 'results_locked' end
if redis.call('HGET', KEYS[1], 'state:' .. examiner) == 'sealed' then return 'marks_sealed' end
if redis.call('HEXISTS', KEYS[1], 'excused:' .. examiner) == 1 then return 'marks_excused' end
if (redis.call('HGET', KEYS[2], 'version') or '') ~= ARGV[3] then return 'rubric_changed' end
redis.call('HSET', KEYS[1], 'sheet:' .. examiner, ARGV[2], 'state:' .. examiner, 'draft')
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
audit('marks_saved', {interview_id = ARGV[7], examiner = examiner, marks = cjson.decode(ARGV[5]),
                      total = tonumber(ARGV[6]), comment = ARGV[8]})
return 'ok'
