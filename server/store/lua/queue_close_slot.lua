-- Once a slot is over: every booked candidate who never entered the queue becomes absent (no-show).
-- KEYS[1] slot booked zset, KEYS[2] slot closed flag, KEYS[3] audit stream, KEYS[4] queue:all zset
-- ARGV[1] now, ARGV[2] entry key prefix of the room, ARGV[3] room, ARGV[4] slot, ARGV[5] exam,
-- ARGV[6] slot start, ARGV[7] slot end, ARGV[8] queued key prefix ('<prefix>queued:'),
-- ARGV[9..] audit base pairs (system actor; subject filled in here)
-- Returns the accounts marked absent, or false when the slot was already closed.
if not redis.call('SET', KEYS[2], ARGV[1], 'NX') then return false end
local marked = {}
local score = string.format('%.0f', math.floor(tonumber(ARGV[6])) * 100000)
for _, account in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[2] .. account
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'room', ARGV[3], 'slot', ARGV[4], 'exam', ARGV[5], 'account', account,
               'state', 'absent', 'reason', 'no_show', 'score', score, 'seq', 0, 'slot_start', ARGV[6],
               'slot_end', ARGV[7], 'joined_at', '0', 'state_at', ARGV[1], 'absent_at', ARGV[1],
               'disconnected_at', '0', 'joins', 0)
    redis.call('ZADD', KEYS[4], score, account)
    redis.call('SADD', ARGV[8] .. account, ARGV[3])
    local fields = {}
    for i = 9, #ARGV, 2 do
      fields[#fields + 1] = ARGV[i]
      if ARGV[i] == 'subject' then fields[#fields + 1] = account else fields[#fields + 1] = ARGV[i + 1] end
    end
    fields[#fields + 1] = 'event'
    fields[#fields + 1] = 'queue_absent'
    fields[#fields + 1] = 'data'
    fields[#fields + 1] = cjson.encode({room = ARGV[3], slot = ARGV[4], reason = 'no_show'})
    redis.call('XADD', KEYS[3], '*', unpack(fields))
    marked[#marked + 1] = account
  end
end
return marked
