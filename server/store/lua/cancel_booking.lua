-- Cancel one booking (admin only). KEYS[1] candidate bookings hash, KEYS[2] slot booked zset,
-- KEYS[3] audit stream, KEYS[4] the candidate's cancellations hash (what their page shows).
-- ARGV[1] account id, ARGV[2] subject id, ARGV[3] slot id, ARGV[4] cancellation (JSON), ARGV[5..] audit pairs.
if redis.call('HGET', KEYS[1], ARGV[2]) ~= ARGV[3] then return 'booking_not_found' end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
local audit = {}
for i = 5, #ARGV do audit[#audit + 1] = ARGV[i] end
redis.call('XADD', KEYS[3], '*', unpack(audit))
return 'ok'
