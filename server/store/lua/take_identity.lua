-- The identity check of a submitted take (server/recorded/take_identity.py): one result per take,
-- however many processes and triggers try. Three steps, by ARGV[1]:
--   'claim'  ARGV[2] now, ARGV[3] token, ARGV[4] claim TTL (s)
--            -> 'ok' (this caller checks now), 'done' (a result is recorded), 'running' (another
--               caller's claim is live) or 'gone' (no such take)
--   'retry'  ARGV[2] now, ARGV[3] token, ARGV[4] next try (epoch), ARGV[5] pending JSON
--            -> 'ok': the claim is given back, the take is due again at ARGV[4]; 'done' if recorded
--   'record' ARGV[2] now, ARGV[3] token, ARGV[4] result JSON, ARGV[5] audit data JSON, ARGV[6..] audit
--            base pairs -> 'ok', or 'done' when a result was recorded already (it is kept)
-- KEYS[1] take hash, KEYS[2] the due zset (take ids scored by their next try), KEYS[3] audit stream
-- Fields of the take: identity (the result), identity_claim ('<token> <expires>'), identity_pending.
local op = ARGV[1]
local now = tonumber(ARGV[2])
local id = redis.call('HGET', KEYS[1], 'id')
if not id then
  return 'gone'
end
local recorded = redis.call('HGET', KEYS[1], 'identity')
if recorded and recorded ~= '' then
  redis.call('ZREM', KEYS[2], id)
  return 'done'
end
local claim = redis.call('HGET', KEYS[1], 'identity_claim') or ''
local holder, expires = string.match(claim, '^(%S+) (%S+)$')
if op == 'claim' then
  if holder and holder ~= ARGV[3] and tonumber(expires) > now then
    return 'running'
  end
  redis.call('HSET', KEYS[1], 'identity_claim', ARGV[3] .. ' ' .. string.format('%.3f', now + tonumber(ARGV[4])))
  return 'ok'
end
if op == 'retry' then
  if holder == ARGV[3] then
    redis.call('HDEL', KEYS[1], 'identity_claim')
  end
  redis.call('HSET', KEYS[1], 'identity_pending', ARGV[5])
  redis.call('ZADD', KEYS[2], tonumber(ARGV[4]), id)
  return 'ok'
end
-- record
redis.call('HSET', KEYS[1], 'identity', ARGV[4])
redis.call('HDEL', KEYS[1], 'identity_claim', 'identity_pending')
redis.call('ZREM', KEYS[2], id)
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'event'
fields[#fields + 1] = 'take_identity_checked'
fields[#fields + 1] = 'data'
fields[#fields + 1] = ARGV[5]
redis.call('XADD', KEYS[3], '*', unpack(fields))
return 'ok'
