-- Presence and time rules of one room's queue, run by every server process every few seconds (and
-- right after a socket drops): marks who lost their connection, restores who came back, and makes
-- absent those whose grace period or slot is over while disconnected. A called candidate disconnected
-- for longer than the called grace goes back to the line at their place (absent if the slot is over):
-- the room is free for the next, and the usual grace period runs from their drop.
-- KEYS[1] queue zset, KEYS[2] room live hash, KEYS[3] audit stream, KEYS[4] active queues set
-- ARGV[1] now, ARGV[2] entry key prefix of the room, ARGV[3] presence key prefix, ARGV[4] grace seconds,
-- ARGV[5] room id, ARGV[6] process key prefix, ARGV[7] called grace seconds, ARGV[8] '1': hold (Redis
-- was just unreachable: restore who is back, mark nobody disconnected), ARGV[9..] audit base pairs
-- (system actor; subject filled in here)
-- Live: a presence member ('<process>|<sid>') not expired whose process is alive (below); a member
-- without a process counts by its score.
-- Returns {accounts whose entry changed, called accounts sent back to the line (or absent)}.
local now = tonumber(ARGV[1])
-- A process counts while its key exists and it holds a subscription to the channel of the same name
-- (queue/liveness.py ProcessChannel): Redis drops a killed process's subscription at once, while its
-- key would count until it lapses (process_ttl_s).
local function process_alive(key)
  return redis.call('EXISTS', key) == 1 and redis.call('PUBSUB', 'NUMSUB', key)[2] > 0
end
local grace = tonumber(ARGV[4])
local called_grace = tonumber(ARGV[7])
local hold = ARGV[8] == '1'
local changed, released = {}, {}
local function audit(account, event, data)
  local fields = {}
  for i = 9, #ARGV, 2 do
    fields[#fields + 1] = ARGV[i]
    if ARGV[i] == 'subject' then fields[#fields + 1] = account else fields[#fields + 1] = ARGV[i + 1] end
  end
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local current = redis.call('HGET', KEYS[2], 'account')
if current then members[#members + 1] = current end
for _, account in ipairs(members) do
  local key = ARGV[2] .. account
  local presence = ARGV[3] .. account
  redis.call('ZREMRANGEBYSCORE', presence, '-inf', '(' .. ARGV[1])
  local live = false
  for _, member in ipairs(redis.call('ZRANGE', presence, 0, -1)) do
    local bar = string.find(member, '|', 1, true)
    if not bar or process_alive(ARGV[6] .. string.sub(member, 1, bar - 1)) then
      live = true
      break
    end
  end
  local e = redis.call('HMGET', key, 'state', 'disconnected_at', 'slot_end', 'slot_start')
  local state, disc, slot_end = e[1], tonumber(e[2] or '0'), tonumber(e[3] or '0')
  local slot_start = tonumber(e[4] or '0')
  if live and disc > 0 then
    redis.call('HSET', key, 'disconnected_at', '0')
    audit(account, 'queue_reconnected', {room = ARGV[5], away_s = now - disc})
    changed[#changed + 1] = account
  elseif hold then
    live = true  -- presence may not be refreshed yet: nothing below applies to this account now
  elseif not live and disc == 0 then
    redis.call('HSET', key, 'disconnected_at', ARGV[1])
    audit(account, 'queue_disconnected', {room = ARGV[5], state = state})
    changed[#changed + 1] = account
    disc = now
  end
  if not live and state == 'called' and now - disc > called_grace then
    local to, reason = 'waiting', 'called_disconnected'
    if slot_end < now then to, reason = 'absent', 'slot_over' end
    if to == 'waiting' then
      redis.call('ZADD', KEYS[1], redis.call('HGET', key, 'score'), account)
      redis.call('HSET', key, 'state', 'waiting', 'state_at', ARGV[1], 'reason', reason)
    else
      redis.call('HSET', key, 'state', 'absent', 'state_at', ARGV[1], 'absent_at', ARGV[1], 'reason', reason)
    end
    if redis.call('HGET', KEYS[2], 'account') == account then redis.call('DEL', KEYS[2]) end
    audit(account, 'queue_call_released', {room = ARGV[5], reason = reason, away_s = now - disc, from = state, to = to})
    changed[#changed + 1] = account
    released[#released + 1] = account
    state = to
  end
  if not live and (state == 'waiting_face_check' or state == 'waiting') then
    local reason = ''
    -- an early arrival who drops before the slot starts keeps the place: the grace period runs from
    -- the later of the drop and the slot's start
    if slot_end < now then reason = 'slot_over' elseif now - math.max(disc, slot_start) > grace then reason = 'disconnected' end
    if reason ~= '' then
      redis.call('ZREM', KEYS[1], account)
      redis.call('HSET', key, 'state', 'absent', 'state_at', ARGV[1], 'absent_at', ARGV[1], 'reason', reason)
      audit(account, 'queue_absent', {room = ARGV[5], reason = reason, from = state})
      changed[#changed + 1] = account
    end
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SREM', KEYS[4], ARGV[5])
end
return {changed, released}
