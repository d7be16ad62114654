-- A candidate enters the room's queue (or re-enters it after removal / absence), in arrival order.
-- KEYS[1] entry hash, KEYS[2] queue zset, KEYS[3] queue:all zset, KEYS[4] slot arrivals counter,
-- KEYS[5] audit stream, KEYS[6] active queues set, KEYS[7] face state hash, KEYS[8] queued:{account} set
-- ARGV[1] now, ARGV[2] room, ARGV[3] slot, ARGV[4] exam, ARGV[5] account, ARGV[6] name,
-- ARGV[7] slot start, ARGV[8] slot end, ARGV[9] device report (JSON), ARGV[10] seconds a passed face
-- check stays valid, ARGV[11..] audit base pairs (actor, actor_role, subject, at)
-- Returns {'ok', state, 'joined'|'reentered'} or {'err', code, state}.
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'waiting_face_check' or state == 'waiting' or state == 'called' or state == 'in_room' then
  return {'err', 'already_in_queue', state}
end
if state == 'done' then return {'err', 'interview_done', state} end
if state == 'review_pending' then return {'err', 'face_review_pending', state} end
local face = redis.call('HMGET', KEYS[7], 'status', 'passed_at')
if face[1] == 'locked' then return {'err', 'face_review_pending', state or ''} end
if face[1] == 'rejected' then return {'err', 'face_review_rejected', state or ''} end
local now = tonumber(ARGV[1])
local new_state = 'waiting_face_check'
if face[1] == 'approved' or (face[1] == 'passed' and now - tonumber(face[2] or '0') <= tonumber(ARGV[10])) then
  new_state = 'waiting'
end
local seq = redis.call('INCR', KEYS[4])
local score = string.format('%.0f', math.floor(tonumber(ARGV[7])) * 100000 + seq)
local joins = redis.call('HINCRBY', KEYS[1], 'joins', 1)
redis.call('HSET', KEYS[1], 'room', ARGV[2], 'slot', ARGV[3], 'exam', ARGV[4], 'account', ARGV[5],
           'name', ARGV[6], 'state', new_state, 'score', score, 'seq', seq, 'slot_start', ARGV[7],
           'slot_end', ARGV[8], 'joined_at', ARGV[1], 'state_at', ARGV[1], 'disconnected_at', '0',
           'reason', '', 'device', ARGV[9], 'reminded_for', '')
redis.call('ZADD', KEYS[2], score, ARGV[5])
redis.call('ZADD', KEYS[3], score, ARGV[5])
redis.call('SADD', KEYS[6], ARGV[2])
redis.call('SADD', KEYS[8], ARGV[2])
local how = 'joined'
if joins > 1 then how = 'reentered' end
local fields = {}
for i = 11, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'event'
fields[#fields + 1] = 'queue_' .. how
fields[#fields + 1] = 'data'
fields[#fields + 1] = cjson.encode({room = ARGV[2], slot = ARGV[3], state = new_state, arrival = seq,
                                    device = cjson.decode(ARGV[9])})
redis.call('XADD', KEYS[5], '*', unpack(fields))
return {'ok', new_state, how}
