-- The candidate's camera joins a take (every join: the first, or a reconnect): the answer's clock, by
-- the take's form (docs/recorded.md "Forms"). A drawn question's answer begins when its preparation
-- ends; a join more than a second before ("准备好了，开始作答") begins it now, its longest length from now:
-- the preparation can be cut short, never made longer. A guided take's steps begin at its first join:
-- each step's start is set on the server's clock (the step timeline), and the take ends after the last
-- step (or at the longest take, or the deadline). Any other join changes nothing.
-- KEYS[1] take hash, KEYS[2] sitting hash, KEYS[3] audit stream
-- ARGV[1] now, ARGV[2..] audit base pairs
-- Returns {'ok', what}: 'early' (the answer began now), 'steps' (the steps began now), 'same'; or {'err', code}.
local t = redis.call('HMGET', KEYS[1], 'state', 'form', 'answer_at', 'id', 'sitting_id', 'started_at', 'steps',
                     'timeline')
if not t[1] then return {'err', 'take_not_found'} end
if t[1] ~= 'recording' then return {'err', 'take_over'} end
local now = tonumber(ARGV[1])
local s = redis.call('HMGET', KEYS[2], 'deadline', 'take_max_s')
local deadline = tonumber(s[1] or '0')
local take_max_s = tonumber(s[2] or '300')
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
local function stop_at(length)
  local at = now + length
  if deadline > 0 and deadline < at then at = deadline end
  return string.format('%.3f', at)
end
-- a join within a second of the preparation's end is its end (the page's clock is the server's within that)
if t[2] == 'question' and now < tonumber(t[3] or '0') - 1 then
  redis.call('HSET', KEYS[1], 'answer_at', ARGV[1], 'stop_at', stop_at(take_max_s))
  audit('take_answer_started', {take_id = t[4], sitting_id = t[5], early = true,
                                prepared_s = math.floor((now - tonumber(t[6] or now)) * 10 + 0.5) / 10})
  return {'ok', 'early'}
end
if t[2] == 'guided' and (t[8] == nil or t[8] == '' or t[8] == '[]') then
  local steps = cjson.decode(t[7] or '[]')
  local total = 0
  for _, step in ipairs(steps) do total = total + tonumber(step.duration_s or 0) end
  local length = math.min(total, take_max_s)
  if deadline > 0 then length = math.min(length, deadline - now) end
  local timeline = {}
  local offset = 0
  for index, step in ipairs(steps) do
    if offset >= length and index > 1 then break end
    timeline[#timeline + 1] = {index = index - 1, at = tonumber(string.format('%.3f', now + offset)), offset_s = offset}
    offset = offset + tonumber(step.duration_s or 0)
  end
  redis.call('HSET', KEYS[1], 'answer_at', ARGV[1], 'stop_at', stop_at(length), 'timeline', cjson.encode(timeline))
  audit('take_steps_started', {take_id = t[4], sitting_id = t[5], steps = #timeline})
  return {'ok', 'steps'}
end
return {'ok', 'same'}
