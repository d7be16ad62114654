-- One state change of a queue entry: checks the state it comes from, moves it in or out of the
-- waiting line and the room, writes the audit entry, and names whom to remind "you are next".
-- KEYS[1] entry hash, KEYS[2] queue zset, KEYS[3] room live hash, KEYS[4] audit stream, KEYS[5] stats hash
-- ARGV[1] now, ARGV[2] account, ARGV[3] states it may come from (comma separated), ARGV[4] new state,
-- ARGV[5] waiting line: 'add' (back at its stored place) | 'remove' | 'keep',
-- ARGV[6] room: 'enter' (the called candidate is now in the room) | 'release' (if it holds the room) | 'keep',
-- ARGV[7] reason, ARGV[8] audit event, ARGV[9] audit data (JSON object),
-- ARGV[10] '1': count a finished interview in the room's stats, ARGV[11] entry key prefix of the room
-- (for the head of the line), ARGV[12..] audit base pairs
-- Returns {'ok', previous state, account to remind or ''} or {'err', 'wrong_state', state}.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'err', 'not_in_queue', ''} end
local allowed = false
for s in string.gmatch(ARGV[3], '[^,]+') do
  if s == state then allowed = true end
end
if not allowed then return {'err', 'wrong_state', state} end
local now = ARGV[1]
local account = ARGV[2]
local new_state = ARGV[4]
redis.call('HSET', KEYS[1], 'state', new_state, 'state_at', now, new_state .. '_at', now, 'reason', ARGV[7])
if ARGV[5] == 'add' then
  redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[1], 'score'), account)
elseif ARGV[5] == 'remove' then
  redis.call('ZREM', KEYS[2], account)
end
if ARGV[10] == '1' then
  local entered = tonumber(redis.call('HGET', KEYS[1], 'in_room_at') or now)
  redis.call('HINCRBYFLOAT', KEYS[5], 'total_s', tonumber(now) - entered)
  redis.call('HINCRBY', KEYS[5], 'count', 1)
end
local remind = ''
if ARGV[6] == 'enter' then
  redis.call('HSET', KEYS[3], 'state', new_state, 'since', now)
  local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if head then
    local admission = redis.call('HGET', KEYS[1], 'admission') or ''
    local head_key = ARGV[11] .. head
    if redis.call('HGET', head_key, 'reminded_for') ~= admission then
      redis.call('HSET', head_key, 'reminded_for', admission)
      remind = head
    end
  end
elseif ARGV[6] == 'release' and redis.call('HGET', KEYS[3], 'account') == account then
  redis.call('DEL', KEYS[3])
end
local data = cjson.decode(ARGV[9])
data['from'] = state
data['to'] = new_state
if ARGV[7] ~= '' then data['reason'] = ARGV[7] end
if remind ~= '' then data['reminded'] = remind end
local fields = {}
for i = 12, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'event'
fields[#fields + 1] = ARGV[8]
fields[#fields + 1] = 'data'
fields[#fields + 1] = cjson.encode(data)
redis.call('XADD', KEYS[4], '*', unpack(fields))
return {'ok', state, remind}
