-- An examiner calls the next candidate: the first of the waiting line whose face check has passed,
-- whose slot has started and who is connected. One script, so two examiners clicking at once admit
-- one candidate, and a room holds one called or interviewed candidate at a time.
-- KEYS[1] queue zset, KEYS[2] room live hash, KEYS[3] audit stream
-- ARGV[1] now, ARGV[2] entry key prefix of the room ('<prefix>qentry:<room>:'),
-- ARGV[3] presence key prefix ('<prefix>presence:'), ARGV[4] admission id, ARGV[5] examiner id,
-- ARGV[6] process key prefix ('<prefix>process:'), ARGV[7..] audit base pairs (subject filled in here)
-- Connected: a presence member ('<process>|<sid>') not expired whose process is alive (below: a killed
-- process's sockets stop counting at once); a member without a process counts by its score.
-- ARGV[6] empty (the caller's process is holding after a Redis outage, when every process's key may
-- have lapsed with it): every member counts by its score, as the sweep does then.
-- Returns {'ok', account} or {'err', code, detail}; for 'nobody_ready' also, as JSON, why each
-- candidate of the line cannot be called (read only: a refusal writes nothing):
-- [{account, name, why = face_check_pending | disconnected | slot_not_started | state, state, slot_start}].
local now = tonumber(ARGV[1])
-- A process counts while its key exists and it holds a subscription to the channel of the same name
-- (queue/liveness.py ProcessChannel): Redis drops a killed process's subscription at once, while its
-- key would count until it lapses (process_ttl_s).
local function process_alive(key)
  return redis.call('EXISTS', key) == 1 and redis.call('PUBSUB', 'NUMSUB', key)[2] > 0
end
local function connected(account)
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', ARGV[3] .. account, ARGV[1], '+inf')) do
    local bar = string.find(member, '|', 1, true)
    if not bar or ARGV[6] == '' or process_alive(ARGV[6] .. string.sub(member, 1, bar - 1)) then
      return true
    end
  end
  return false
end
local current = redis.call('HGET', KEYS[2], 'account')
if current then
  local cs = redis.call('HGET', ARGV[2] .. current, 'state')
  if cs == 'called' or cs == 'in_room' then return {'err', 'room_busy', current} end
end
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
if #members == 0 then return {'err', 'queue_empty', ''} end
local blocked = {}
for _, account in ipairs(members) do
  local key = ARGV[2] .. account
  local e = redis.call('HMGET', key, 'state', 'slot_start', 'disconnected_at')
  if e[1] == 'waiting' and tonumber(e[2]) <= now and tonumber(e[3] or '0') == 0 and connected(account) then
    redis.call('ZREM', KEYS[1], account)
    redis.call('HSET', key, 'state', 'called', 'state_at', ARGV[1], 'called_at', ARGV[1], 'called_by', ARGV[5],
               'admission', ARGV[4], 'reason', '')
    redis.call('DEL', KEYS[2])
    redis.call('HSET', KEYS[2], 'account', account, 'state', 'called', 'since', ARGV[1], 'admission', ARGV[4],
               'called_by', ARGV[5])
    local fields = {}
    for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
    for i = 1, #fields, 2 do
      if fields[i] == 'subject' then fields[i + 1] = account end
    end
    fields[#fields + 1] = 'event'
    fields[#fields + 1] = 'queue_called'
    fields[#fields + 1] = 'data'
    fields[#fields + 1] = cjson.encode({admission = ARGV[4], waited_s = now - tonumber(redis.call('HGET', key, 'joined_at'))})
    redis.call('XADD', KEYS[3], '*', unpack(fields))
    return {'ok', account}
  end
  local why
  if e[1] == 'waiting_face_check' then
    why = 'face_check_pending'
  elseif e[1] ~= 'waiting' then
    why = 'state'
  elseif tonumber(e[3] or '0') ~= 0 or not connected(account) then
    why = 'disconnected'
  else
    why = 'slot_not_started'
  end
  blocked[#blocked + 1] = {account = account, name = redis.call('HGET', key, 'name') or '', why = why,
                           state = e[1] or '', slot_start = tonumber(e[2] or '0')}
end
return {'err', 'nobody_ready', tostring(#members), cjson.encode(blocked)}
