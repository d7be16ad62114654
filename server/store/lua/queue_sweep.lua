-- Presence and time rules of one room's queue, run by every server process every few seconds (and
-- right after a socket drops): marks who lost their connection, restores who came back, and makes
-- absent those whose grace period or slot is over while disconnected.
-- KEYS[1] queue zset, KEYS[2] room live hash, KEYS[3] audit stream, KEYS[4] active queues set
-- ARGV[1] now, ARGV[2] entry key prefix of the room, ARGV[3] presence key prefix, ARGV[4] grace seconds,
-- ARGV[5] room id, ARGV[6..] audit base pairs (system actor; subject filled in here)
-- Returns the accounts whose entry changed.
local now = tonumber(ARGV[1])
local grace = tonumber(ARGV[4])
local changed = {}
local function audit(account, event, data)
  local fields = {}
  for i = 6, #ARGV, 2 do
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
  local live = redis.call('ZCARD', presence) > 0
  local e = redis.call('HMGET', key, 'state', 'disconnected_at', 'slot_end', 'slot_start')
  local state, disc, slot_end = e[1], tonumber(e[2] or '0'), tonumber(e[3] or '0')
  local slot_start = tonumber(e[4] or '0')
  if live and disc > 0 then
    redis.call('HSET', key, 'disconnected_at', '0')
    audit(account, 'queue_reconnected', {room = ARGV[5], away_s = now - disc})
    changed[#changed + 1] = account
  elseif not live and disc == 0 then
    redis.call('HSET', key, 'disconnected_at', ARGV[1])
    audit(account, 'queue_disconnected', {room = ARGV[5], state = state})
    changed[#changed + 1] = account
    disc = now
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
return changed
