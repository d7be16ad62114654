-- A candidate enters a recorded subject ("已知晓并同意"): every rule checked and the sitting written in
-- one step, so two tabs or two devices entering at once make one sitting, and the countdown starts here.
-- KEYS[1] subject hash, KEYS[2] the candidate's sittings of the subject (hash), KEYS[3] the new sitting
-- hash, KEYS[4] exam sittings zset, KEYS[5] due zset, KEYS[6] enrolment hash, KEYS[7] roster entry hash,
-- KEYS[8] audit stream
-- ARGV[1] now, ARGV[2] mode (formal | mock | practice), ARGV[3] device, ARGV[4] new sitting id,
-- ARGV[5] exam code, ARGV[6] exam id, ARGV[7] subject id, ARGV[8] account id, ARGV[9] sitting key
-- prefix, ARGV[10..] audit base pairs
-- Returns {'created', id}, {'existing', id} (in progress on this device) or {'err', code}.
local now, mode, device = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local s = redis.call('HMGET', KEYS[1], 'exam_id', 'kind', 'takes_allowed', 'take_max_s', 'window_opens',
                     'window_closes', 'time_limit_min', 'sittings_allowed', 'cut_take_counts', 'mock_tries',
                     'form', 'photo_time_limit_min', 'photos_min', 'photos_max')
if not s[1] or s[1] ~= ARGV[6] then return {'err', 'subject_not_found'} end
if s[2] ~= 'recorded' then return {'err', 'sitting_not_recorded'} end
local subjects = redis.call('HGET', KEYS[7], 'subjects')
if not subjects then return {'err', 'not_rostered'} end
local rostered = false
for _, id in ipairs(cjson.decode(subjects)) do
  if id == ARGV[7] then rostered = true end
end
if not rostered then return {'err', 'not_rostered_subject'} end
local steps = redis.call('HMGET', KEYS[6], 'confirmed_at', 'notice_read_at', 'pledge_signed_at')
if not steps[1] then return {'err', 'exam_not_confirmed'} end
if not steps[2] then return {'err', 'notice_not_read'} end
if not steps[3] then return {'err', 'pledge_not_signed'} end
local current = redis.call('HGET', KEYS[2], mode)
if current then
  local cur = redis.call('HMGET', ARGV[9] .. current, 'state', 'device')
  if cur[1] == 'in_progress' then
    if cur[2] == device then return {'existing', current} end
    return {'err', 'sitting_other_device'}
  end
end
local entries = tonumber(redis.call('HGET', KEYS[2], mode .. '_entries') or '0')
local takes_allowed, take_max_s = tonumber(s[3] or '1'), tonumber(s[4] or '300')
local limit_s = tonumber(s[7] or '0') * 60
local deadline = 0
if mode == 'formal' then
  if redis.call('HEXISTS', KEYS[2], 'submission') == 1 then return {'err', 'sitting_already_submitted'} end
  local opens, closes = tonumber(s[5] or '0'), tonumber(s[6] or '0')
  if now < opens then return {'err', 'sitting_window_not_open'} end
  if now >= closes then return {'err', 'sitting_window_closed'} end
  if entries >= tonumber(s[8] or '1') then return {'err', 'sitting_no_sittings_left'} end
  deadline = closes
  if limit_s > 0 and now + limit_s < closes then deadline = now + limit_s end
elseif mode == 'mock' then
  if entries >= tonumber(s[10] or '0') then return {'err', 'sitting_no_mock_left'} end
  if limit_s > 0 then deadline = now + limit_s else deadline = now + take_max_s * takes_allowed * 2 end
end
local number = redis.call('HINCRBY', KEYS[2], mode .. '_entries', 1)
local id = ARGV[4]
redis.call('HSET', KEYS[3], 'id', id, 'exam_id', ARGV[6], 'subject_id', ARGV[7], 'account_id', ARGV[8],
           'mode', mode, 'state', 'in_progress', 'device', device, 'code', ARGV[5], 'number', number,
           'entered_at', ARGV[1], 'deadline', string.format('%.3f', deadline), 'takes_allowed', takes_allowed,
           'take_max_s', take_max_s, 'cut_take_counts', s[9] or '0', 'takes_used', 0, 'takes_total', 0,
           'running', '', 'submitted_take', '', 'submitted_at', 0, 'ended_at', 0, 'ended_by', '')
-- artwork (作品创作): the photo rules the candidate agreed to
redis.call('HSET', KEYS[3], 'form', s[11] or 'performance', 'photo_time_limit_min', s[12] or '10',
           'photos_min', s[13] or '1', 'photos_max', s[14] or '6')
redis.call('HSET', KEYS[2], mode, id, 'last_' .. mode, id)
redis.call('ZADD', KEYS[4], now, id)
if deadline > 0 then redis.call('ZADD', KEYS[5], deadline, id) end
local fields = {}
for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[8], '*', unpack(fields))
end
audit('sitting_entered', {sitting_id = id, subject_id = ARGV[7], mode = mode, number = number,
                          deadline = deadline, device = device})
return {'created', id}
