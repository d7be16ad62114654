-- Everything a room's views need, in one round trip (read only).
-- KEYS[1] room hash, KEYS[2] queue zset, KEYS[3] queue:all zset, KEYS[4] room live hash, KEYS[5] stats hash
-- ARGV[1] lowest queue:all score to include, ARGV[2] entry key prefix of the room, ARGV[3] the face
-- state key template ('{exam}', '{account}'), ARGV[4] the subject key template ('{subject}'),
-- ARGV[5] most finished entries to return, ARGV[6..] entry fields to read (templates: store/keys.py)
-- Returns {room hash, line ids, listed ids, live hash, stats hash, subject minutes,
--          {fields of each listed entry}, {face status of each listed entry}}.
local function fill(template, mark, value)  -- a plain replacement (ids hold no pattern characters)
  local i, j = string.find(template, mark, 1, true)
  return string.sub(template, 1, i - 1) .. value .. string.sub(template, j + 1)
end
local room = redis.call('HGETALL', KEYS[1])
local exam, subject = '', ''
for i = 1, #room, 2 do
  if room[i] == 'exam_id' then exam = room[i + 1] elseif room[i] == 'subject_id' then subject = room[i + 1] end
end
local line = redis.call('ZRANGE', KEYS[2], 0, -1)
local listed = {}
local seen = {}
for _, account in ipairs(line) do listed[#listed + 1] = account; seen[account] = true end
local live = redis.call('HGETALL', KEYS[4])
for i = 1, #live, 2 do
  if live[i] == 'account' and not seen[live[i + 1]] then listed[#listed + 1] = live[i + 1]; seen[live[i + 1]] = true end
end
local recent = redis.call('ZREVRANGEBYSCORE', KEYS[3], '+inf', ARGV[1])
local finished = 0
for _, account in ipairs(recent) do
  if not seen[account] and finished < tonumber(ARGV[5]) then
    listed[#listed + 1] = account
    seen[account] = true
    finished = finished + 1
  end
end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
local entries, faces = {}, {}
for i, account in ipairs(listed) do
  entries[i] = redis.call('HMGET', ARGV[2] .. account, unpack(fields))
  faces[i] = redis.call('HGET', fill(fill(ARGV[3], '{exam}', exam), '{account}', account), 'status') or 'none'
end
local minutes = '0'
if subject ~= '' then minutes = redis.call('HGET', fill(ARGV[4], '{subject}', subject), 'interview_minutes') or '0' end
return {room, line, listed, live, redis.call('HGETALL', KEYS[5]), minutes, entries, faces}
