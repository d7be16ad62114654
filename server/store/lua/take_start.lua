-- A take starts: the sitting's rules (in progress, before the deadline, this device, no take running,
-- takes left, the face check for formal and mock sittings) checked and the take written in one step,
-- so two tabs or devices can never both start one.
-- KEYS[1] sitting hash, KEYS[2] the sitting's takes zset, KEYS[3] the new take hash, KEYS[4] face state
-- hash, KEYS[5] audit stream
-- ARGV[1] now, ARGV[2] account id, ARGV[3] device, ARGV[4] new take id, ARGV[5] camera, ARGV[6]
-- orientation, ARGV[7] seconds a face check passed before entering still clears, ARGV[8] take key prefix,
-- ARGV[9] seconds past its longest length after which a take still recording is cut (its media is
-- gone), ARGV[10] most takes of any state in one sitting, ARGV[11] the take's source: 'stream' (filmed
-- live) or 'upload' (a file filmed offline: the take starts 'uploading', docs/recorded.md "Upload
-- takes"), ARGV[12] an upload's declared length in bytes, ARGV[13] its file name, ARGV[14] when the
-- abandoned-upload sweep looks at it, ARGV[15..] audit base pairs
-- KEYS[6] the uploads' due zset (uploads only)
-- Returns {'ok', take id} or {'err', code}.
local now = tonumber(ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'account_id', 'state', 'device', 'deadline', 'mode', 'running',
                     'takes_used', 'takes_allowed', 'take_max_s', 'takes_total', 'exam_id', 'subject_id',
                     'entered_at', 'cut_take_counts', 'id')
if not s[1] or s[1] ~= ARGV[2] then return {'err', 'sitting_not_found'} end
if s[2] ~= 'in_progress' then return {'err', 'sitting_over'} end
local deadline = tonumber(s[4] or '0')
if deadline > 0 and now >= deadline then return {'err', 'sitting_over'} end
if s[3] ~= ARGV[3] then return {'err', 'sitting_other_device'} end
local fields = {}
for i = 15, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  local entry = {unpack(fields)}
  entry[#entry + 1] = 'event'
  entry[#entry + 1] = event
  entry[#entry + 1] = 'data'
  entry[#entry + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[5], '*', unpack(entry))
end
local take_max_s = tonumber(s[9] or '300')
if s[6] and s[6] ~= '' then
  local key = ARGV[8] .. s[6]
  local running = redis.call('HMGET', key, 'state', 'started_at')
  -- an upload being received or processed runs until it completes, is cancelled or is abandoned
  if running[1] == 'uploading' or running[1] == 'processing' then return {'err', 'take_running'} end
  if running[1] == 'recording' then
    if now < tonumber(running[2] or '0') + take_max_s + tonumber(ARGV[9]) then return {'err', 'take_running'} end
    -- nobody ended it long after its limit: the process recording it died and nobody came back
    local counts = s[14] == '1'
    redis.call('HSET', key, 'state', 'cut', 'ended_at', ARGV[1], 'counts', counts and '1' or '0')
    if not counts then redis.call('HINCRBY', KEYS[1], 'takes_used', -1) end
    audit('take_ended', {take_id = s[6], sitting_id = s[15], state = 'cut', reason = 'lost', counts = counts})
  end
  redis.call('HSET', KEYS[1], 'running', '')
end
if tonumber(redis.call('HGET', KEYS[1], 'takes_used') or '0') >= tonumber(s[8] or '1') then
  return {'err', 'take_limit'}
end
if tonumber(s[10] or '0') >= tonumber(ARGV[10]) then return {'err', 'take_limit'} end
if s[5] ~= 'practice' then
  local face = redis.call('HMGET', KEYS[4], 'status', 'passed_at')
  if face[1] == 'locked' then return {'err', 'face_review_pending'} end
  if face[1] == 'rejected' then return {'err', 'face_review_rejected'} end
  local recent = tonumber(face[2] or '0') >= tonumber(s[13] or '0') - tonumber(ARGV[7])
  if not (face[1] == 'approved' or (face[1] == 'passed' and recent)) then return {'err', 'take_face_check'} end
end
local number = redis.call('HINCRBY', KEYS[1], 'takes_total', 1)
redis.call('HINCRBY', KEYS[1], 'takes_used', 1)
local id = ARGV[4]
redis.call('HSET', KEYS[1], 'running', id)
local stop_at = now + take_max_s
if deadline > 0 and deadline < stop_at then stop_at = deadline end
local upload = ARGV[11] == 'upload'
redis.call('HSET', KEYS[3], 'id', id, 'sitting_id', s[15], 'exam_id', s[11], 'subject_id', s[12],
           'account_id', ARGV[2], 'mode', s[5], 'number', number, 'state', upload and 'uploading' or 'recording',
           'device', ARGV[3], 'camera', ARGV[5], 'orientation', ARGV[6], 'started_at', ARGV[1],
           'stop_at', string.format('%.3f', stop_at), 'ended_at', 0, 'duration_s', 0, 'counts', '1',
           'files', '{}', 'sha256', '', 'playable_at', 0, 'source', upload and 'upload' or 'stream')
if upload then
  redis.call('HSET', KEYS[3], 'upload_length', ARGV[12], 'upload_name', ARGV[13], 'upload_offset', 0,
             'upload_touched_at', ARGV[1], 'upload', '{}')
  redis.call('ZADD', KEYS[6], ARGV[14], id)
end
redis.call('ZADD', KEYS[2], number, id)
local started = {take_id = id, sitting_id = s[15], number = number, camera = ARGV[5], orientation = ARGV[6]}
if upload then
  started.source = 'upload'
  started.length = tonumber(ARGV[12])
end
audit('take_started', started)
return {'ok', id}
