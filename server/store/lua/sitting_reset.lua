-- 重置: the sitting ends, its takes are discarded, and it uses one of the subject's entries (004_*:
-- "消耗当前一次考试次数"; the next entry is a new sitting whose countdown starts again). Allowed while in
-- progress with no take recording, or (004_* 6) for a formal sitting auto-submitted at its deadline while
-- the window is open; never when no entry would be left. Practice resets without limit.
-- KEYS[1] sitting hash, KEYS[2] the sitting's takes zset, KEYS[3] the candidate's sittings of the subject
-- (hash), KEYS[4] due zset, KEYS[5] subject hash, KEYS[6] audit stream
-- ARGV[1] now, ARGV[2] account id (the sitting's owner), ARGV[3] take key prefix, ARGV[4] reason,
-- ARGV[5] who resets (account id or 'system'), ARGV[6..] audit base pairs
-- Returns 'ok' or the refusal's code.
local now = tonumber(ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'account_id', 'state', 'mode', 'running', 'id')
if not s[1] or s[1] ~= ARGV[2] then return 'sitting_not_found' end
local from, mode = s[2], s[3]
if from == 'in_progress' then
  if s[4] and s[4] ~= '' then return 'take_running' end
elseif not (from == 'auto_submitted' and mode == 'formal') then
  return 'sitting_over'
end
if mode ~= 'practice' then
  local rules = redis.call('HMGET', KEYS[5], 'sittings_allowed', 'mock_tries', 'window_closes')
  local allowed = tonumber(rules[1] or '1')
  if mode == 'mock' then allowed = tonumber(rules[2] or '0') end
  if tonumber(redis.call('HGET', KEYS[3], mode .. '_entries') or '0') >= allowed then
    return 'sitting_reset_none_left'
  end
  if from == 'auto_submitted' then
    if now >= tonumber(rules[3] or '0') then return 'sitting_window_closed' end
    if redis.call('HGET', KEYS[3], 'submission') == s[5] then redis.call('HDEL', KEYS[3], 'submission') end
  end
end
local takes = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, take in ipairs(takes) do
  redis.call('HSET', ARGV[3] .. take, 'state', 'discarded')
end
redis.call('HSET', KEYS[1], 'state', 'reset', 'ended_at', ARGV[1], 'ended_by', ARGV[5])
if redis.call('HGET', KEYS[3], mode) == s[5] then redis.call('HDEL', KEYS[3], mode) end
redis.call('ZREM', KEYS[4], s[5])
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[6], '*', unpack(fields))
end
audit('sitting_reset', {sitting_id = s[5], mode = mode, from = from, reason = ARGV[4], count = #takes})
return 'ok'
