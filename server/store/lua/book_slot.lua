-- Book a slot for a candidate: every rule checked and the booking written in one atomic step,
-- so any number of server processes can race on one slot without over-booking.
-- KEYS[1] slot hash, KEYS[2] slot booked zset, KEYS[3] candidate bookings hash, KEYS[4] exam hash,
-- KEYS[5] enrolment hash, KEYS[6] roster entry hash, KEYS[7] audit stream,
-- KEYS[8] the candidate's cancellations hash (a new booking of the subject clears its notice)
-- ARGV[1] account id, ARGV[2] now (epoch s), ARGV[3] exam id, ARGV[4] slot id, ARGV[5..] audit entry pairs
-- Returns 'ok' or the reason code of the refusal.
-- The slot's capacity is the last thing checked, so a refusal for any other reason never
-- depends on how full the slot is.
local slot = redis.call('HMGET', KEYS[1], 'exam_id', 'subject_id', 'starts_at', 'capacity', 'ends_at')
if not slot[1] then return 'slot_not_found' end
if slot[1] ~= ARGV[3] then return 'slot_wrong_exam' end
local subjects = redis.call('HGET', KEYS[6], 'subjects')
if not subjects then return 'not_rostered' end
local rostered = false
for _, s in ipairs(cjson.decode(subjects)) do
  if s == slot[2] then rostered = true end
end
if not rostered then return 'not_rostered_subject' end
local steps = redis.call('HMGET', KEYS[5], 'confirmed_at', 'notice_read_at', 'pledge_signed_at')
if not steps[1] then return 'exam_not_confirmed' end
if not steps[2] then return 'notice_not_read' end
if not steps[3] then return 'pledge_not_signed' end
local now = tonumber(ARGV[2])
local window = redis.call('HMGET', KEYS[4], 'booking_opens', 'booking_closes', 'late_booking_min')
if not window[1] then return 'exam_not_found' end
if now < tonumber(window[1]) then return 'booking_not_open' end
if now > tonumber(window[2]) then return 'booking_closed' end
-- a started slot is closed, unless the exam lets one be booked while enough of it remains
local late = tonumber(window[3] or '0') or 0
if now >= tonumber(slot[3]) and (late <= 0 or now > tonumber(slot[5]) - late * 60) then return 'slot_started' end
if redis.call('HEXISTS', KEYS[3], slot[2]) == 1 then return 'already_booked' end
if redis.call('ZCARD', KEYS[2]) >= tonumber(slot[4]) then return 'slot_full' end
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('HSET', KEYS[3], slot[2], ARGV[4])
redis.call('HDEL', KEYS[8], slot[2])
local audit = {}
for i = 5, #ARGV do audit[#audit + 1] = ARGV[i] end
redis.call('XADD', KEYS[7], '*', unpack(audit))
return 'ok'
