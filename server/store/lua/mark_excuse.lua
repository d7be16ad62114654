-- An admin excuses an examiner of the panel from an interview's marking (they never came or left and
-- cannot mark): the others' marks and the final mark no longer wait for them, and they can no longer
-- mark it (mark_save.lua / mark_seal.lua refuse 'marks_excused'). Checked and written in one step with
-- its audit entry, so an excuse racing the examiner's own seal either lands first or is refused.
-- KEYS[1] the interview's marks hash, KEYS[2] the interview hash, KEYS[3] audit stream,
-- KEYS[4] the examiner's unfinished marking (zset: the interview leaves it),
-- KEYS[5] the exam's results hash (locked: refused)
-- ARGV[1] examiner id, ARGV[2] reason, ARGV[3] the excuse (JSON: by, reason, at), ARGV[4] interview id,
-- ARGV[5..] audit base pairs
-- Returns 'ok' or the refusal's code.
local examiner = ARGV[1]
if redis.call('HEXISTS', KEYS[5], 'state') == 1 then return 'results_locked' end
local ended = redis.call('HGET', KEYS[2], 'ended_at')
if not ended or ended == '' then return 'marks_excuse_not_ended' end
local panel = cjson.decode(redis.call('HGET', KEYS[2], 'panel') or '[]')
local on_panel, left = false, 0
for _, id in ipairs(panel) do
  if id == examiner then
    on_panel = true
  elseif redis.call('HEXISTS', KEYS[1], 'excused:' .. id) == 0 then
    left = left + 1
  end
end
if not on_panel then return 'marks_not_found' end
if redis.call('HEXISTS', KEYS[1], 'excused:' .. examiner) == 1 then return 'marks_excused_already' end
if redis.call('HGET', KEYS[1], 'state:' .. examiner) == 'sealed' then return 'marks_excuse_sealed' end
if left == 0 then return 'marks_excuse_last' end
redis.call('HSET', KEYS[1], 'excused:' .. examiner, ARGV[3])
redis.call('ZREM', KEYS[4], ARGV[4])
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'event'
fields[#fields + 1] = 'marks_excused'
fields[#fields + 1] = 'data'
fields[#fields + 1] = cjson.encode({interview_id = ARGV[4], examiner = examiner, reason = ARGV[2]})
redis.call('XADD', KEYS[3], '*', unpack(fields))
redis.call('HINCRBY', KEYS[5], 'changes', 1)  -- a lock computed before this change is refused
return 'ok'
