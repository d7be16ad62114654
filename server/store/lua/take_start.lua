-- A take starts: the sitting's rules (in progress, before the deadline, this device, no take running,
-- takes left, the face check for formal and mock sittings) checked and the take written in one step,
-- so two tabs or devices can never both start one. The subject's form decides what else the take
-- gets (docs/recorded.md "Forms"): a drawn question (命题作答: drawn here, at random among the pool's
-- questions the candidate has not drawn yet, the pool starting again once exhausted; the question of
-- the sitting's last take if that one failed or was cut) and its preparation time, or a guided
-- subject's steps; so one start is one take and one question. A take may be a file filmed offline
-- (source 'upload': it starts 'uploading', docs/recorded.md "Upload takes"), never for a drawn question
-- or guided items (they are answered live).
-- KEYS[1] sitting hash, KEYS[2] the sitting's takes zset, KEYS[3] the new take hash, KEYS[4] face state
-- hash, KEYS[5] audit stream, KEYS[6] subject hash, KEYS[7] the question pool of the sitting's mode (set),
-- KEYS[8] the questions of that pool the candidate has drawn (set), KEYS[9] the uploads' due zset
-- ARGV[1] now, ARGV[2] account id, ARGV[3] device, ARGV[4] new take id, ARGV[5] camera, ARGV[6]
-- orientation, ARGV[7] seconds a face check passed before entering still clears, ARGV[8] take key prefix,
-- ARGV[9] seconds past its stop time after which a take still recording is cut (its media is gone),
-- ARGV[10] most takes of any state in one sitting, ARGV[11] question key prefix, ARGV[12] a random
-- number in [0, 1) (the server's: which question), ARGV[13] the take's source: 'stream' (filmed live) or
-- 'upload', ARGV[14] an upload's declared length in bytes, ARGV[15] its file name, ARGV[16] when the
-- abandoned-upload sweep looks at it, ARGV[17..] audit base pairs
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
local subject = redis.call('HMGET', KEYS[6], 'form', 'prepare_s', 'steps')
local form = subject[1] or 'performance'
local upload = ARGV[13] == 'upload'
if upload and (form == 'question' or form == 'guided') then return {'err', 'upload_not_allowed'} end
local steps = {}
if form == 'question' and redis.call('SCARD', KEYS[7]) == 0 then return {'err', 'question_bank_empty'} end
if form == 'guided' then
  steps = cjson.decode(subject[3] or '[]')
  if #steps == 0 then return {'err', 'guided_no_steps'} end
end
local fields = {}
for i = 17, #ARGV do fields[#fields + 1] = ARGV[i] end
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
  local running = redis.call('HMGET', key, 'state', 'started_at', 'stop_at')
  -- an upload being received or processed runs until it completes, is cancelled or is abandoned
  if running[1] == 'uploading' or running[1] == 'processing' then return {'err', 'take_running'} end
  if running[1] == 'recording' then
    local ends = tonumber(running[3] or '0')
    if ends <= 0 then ends = tonumber(running[2] or '0') + take_max_s end
    if now < ends + tonumber(ARGV[9]) then return {'err', 'take_running'} end
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
-- the answer (the recording) begins after a drawn question's preparation; a guided take lasts its steps
local answer_at = now
local length = take_max_s
if form == 'question' then answer_at = now + tonumber(subject[2] or '0') end
if form == 'guided' then
  local total = 0
  for _, step in ipairs(steps) do total = total + tonumber(step.duration_s or 0) end
  if total < length then length = total end
end
if deadline > 0 and deadline <= answer_at then return {'err', 'take_no_time'} end
local number = redis.call('HINCRBY', KEYS[1], 'takes_total', 1)
redis.call('HINCRBY', KEYS[1], 'takes_used', 1)
local id = ARGV[4]
redis.call('HSET', KEYS[1], 'running', id)
local stop_at = answer_at + length
if deadline > 0 and deadline < stop_at then stop_at = deadline end
local question = '{}'
local question_id = ''
local again = false
if form == 'question' then
  -- the sitting's last take ended without a complete recording (failed, cut): its question passes on to
  -- this take, so that failing a take is no way to draw another question
  local last = redis.call('ZREVRANGE', KEYS[2], 0, 0)[1]
  if last then
    local before = redis.call('HMGET', ARGV[8] .. last, 'state', 'question')
    if (before[1] == 'failed' or before[1] == 'cut') and before[2] and #before[2] > 2 then
      local kept = cjson.decode(before[2])
      if kept.id and redis.call('SISMEMBER', KEYS[7], kept.id) == 1 then
        question_id, question, again = kept.id, before[2], true
      end
    end
  end
  if question_id == '' then
    local pool = redis.call('SDIFF', KEYS[7], KEYS[8])
    if #pool == 0 then  -- every question of the pool drawn: a new round
      redis.call('DEL', KEYS[8])
      pool = redis.call('SMEMBERS', KEYS[7])
    end
    table.sort(pool)  -- the choice is the server's random number, not the set's order
    local n = math.floor(tonumber(ARGV[12]) * #pool) + 1
    if n > #pool then n = #pool end
    question_id = pool[n]
    redis.call('SADD', KEYS[8], question_id)
    local q = redis.call('HMGET', ARGV[11] .. question_id, 'use', 'text', 'media_kind', 'media_sha256', 'media_type')
    local drawn = {}  -- what the take keeps of it (Take.question, docs/recorded.md)
    drawn['id'], drawn['use'], drawn['text'] = question_id, q[1] or '', q[2] or ''
    drawn['media_kind'], drawn['media_sha256'], drawn['media_type'] = q[3] or '', q[4] or '', q[5] or ''
    question = cjson.encode(drawn)
  end
  redis.call('HINCRBY', ARGV[11] .. question_id, 'drawn', 1)
end
redis.call('HSET', KEYS[3], 'id', id, 'sitting_id', s[15], 'exam_id', s[11], 'subject_id', s[12],
           'account_id', ARGV[2], 'mode', s[5], 'number', number, 'state', upload and 'uploading' or 'recording',
           'device', ARGV[3], 'camera', ARGV[5], 'orientation', ARGV[6], 'started_at', ARGV[1],
           'stop_at', string.format('%.3f', stop_at), 'ended_at', 0, 'duration_s', 0, 'counts', '1',
           'files', '{}', 'sha256', '', 'playable_at', 0, 'source', upload and 'upload' or 'stream', 'form', form,
           'answer_at', string.format('%.3f', answer_at), 'question', question,
           'steps', form == 'guided' and subject[3] or '[]', 'timeline', '[]')
if upload then
  redis.call('HSET', KEYS[3], 'upload_length', ARGV[14], 'upload_name', ARGV[15], 'upload_offset', 0,
             'upload_touched_at', ARGV[1], 'upload', '{}')
  redis.call('ZADD', KEYS[9], ARGV[16], id)
end
redis.call('ZADD', KEYS[2], number, id)
local started = {take_id = id, sitting_id = s[15], number = number, camera = ARGV[5], orientation = ARGV[6],
                 form = form, question_id = question_id, again = again}
if upload then
  started.source = 'upload'
  started.length = tonumber(ARGV[14])
end
audit('take_started', started)
return {'ok', id}
