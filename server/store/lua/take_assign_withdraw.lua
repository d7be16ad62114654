-- A submission withdrawn (an auto-submitted sitting reset while the window is open, docs/recorded.md): its
-- marking goes with it. Every grader's sheet and queue entry of the code are removed and their load in the
-- subject goes back down; sealed sheets leave the rubric's sealed count. Audited with the code only.
-- KEYS[1] takemarks:{code}, KEYS[2] subject load (hash), KEYS[3] subject codes (zset), KEYS[4] rubric:{subject},
-- KEYS[5] audit stream, KEYS[6] sheet key prefix (append the grader), KEYS[7] grader queue prefix
-- ARGV[1] code, ARGV[2] subject id, ARGV[3..] audit base pairs
-- Returns how many graders the code had (0: nothing to withdraw).
local raw = redis.call('HGET', KEYS[1], 'graders')
if not raw then return 0 end
local graders = cjson.decode(raw)
if type(graders) ~= 'table' then graders = {} end
local sealed = 0
for _, g in ipairs(graders) do
  if redis.call('HGET', KEYS[6] .. g, 'state') == 'sealed' then sealed = sealed + 1 end
  redis.call('DEL', KEYS[6] .. g)
  redis.call('ZREM', KEYS[7] .. g, ARGV[1])
  if tonumber(redis.call('HGET', KEYS[2], g) or '0') > 0 then redis.call('HINCRBY', KEYS[2], g, -1) end
end
if sealed > 0 then redis.call('HINCRBY', KEYS[4], 'sealed', -sealed) end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local entry = {}
for i = 3, #ARGV do entry[#entry + 1] = ARGV[i] end
entry[#entry + 1] = 'event'
entry[#entry + 1] = 'take_marks_withdrawn'
entry[#entry + 1] = 'data'
local data = {code = ARGV[1], subject_id = ARGV[2], sealed = sealed}
if #graders > 0 then data.graders = graders end
entry[#entry + 1] = cjson.encode(data)
redis.call('XADD', KEYS[5], '*', unpack(entry))
return #graders
