-- An artwork take's photos (作品照片): add one, remove one, or only check that one could be added (before
-- the server spends time on the image). Every rule is checked here, in one step with the write and its
-- audit entry: concurrent uploads never pass photos_max, and nothing is added once the sitting is
-- submitted, over or past the take's photo time.
-- KEYS[1] take hash, KEYS[2] sitting hash, KEYS[3] audit stream
-- ARGV[1] now, ARGV[2] account id, ARGV[3] op (check | add | remove), ARGV[4] the photo (JSON, add) or its
-- id (remove), ARGV[5] uploads accepted per take at most, ARGV[6..] audit base pairs
-- Returns {'ok', photos JSON} ({'ok', the removed photo JSON} for remove) or {'err', code}.
local now, op = tonumber(ARGV[1]), ARGV[3]
local t = redis.call('HMGET', KEYS[1], 'account_id', 'state', 'photos_until', 'photos', 'photos_added', 'id',
                     'sitting_id')
if not t[1] or t[1] ~= ARGV[2] then return {'err', 'take_not_found'} end
local s = redis.call('HMGET', KEYS[2], 'id', 'state', 'deadline', 'form', 'photos_max')
if s[1] ~= t[7] then return {'err', 'take_not_found'} end
if s[4] ~= 'artwork' then return {'err', 'photo_not_artwork'} end
if s[2] ~= 'in_progress' then return {'err', 'photo_sitting_over'} end
local deadline = tonumber(s[3] or '0')
if deadline > 0 and now >= deadline then return {'err', 'photo_sitting_over'} end
if t[2] ~= 'complete' then return {'err', 'photo_take_not_complete'} end
local photos_until = tonumber(t[3] or '0')
if photos_until <= 0 or now >= photos_until then return {'err', 'photo_time_over'} end
local photos = {}
if t[4] and t[4] ~= '' then photos = cjson.decode(t[4]) end
local function encode(list)  -- cjson writes an empty table as {}
  if #list == 0 then return '[]' end
  return cjson.encode(list)
end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
local function audit(event, data)
  fields[#fields + 1] = 'event'
  fields[#fields + 1] = event
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = cjson.encode(data)
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
if op == 'remove' then
  for i, photo in ipairs(photos) do
    if photo.id == ARGV[4] then
      table.remove(photos, i)
      redis.call('HSET', KEYS[1], 'photos', encode(photos))
      audit('take_photo_removed', {take_id = t[6], sitting_id = s[1], photo_id = photo.id, sha256 = photo.sha256,
                                   count = #photos})
      return {'ok', cjson.encode(photo)}
    end
  end
  return {'err', 'photo_not_found'}
end
if #photos >= tonumber(s[5] or '1') then return {'err', 'photo_too_many'} end
if tonumber(t[5] or '0') >= tonumber(ARGV[5]) then return {'err', 'photo_uploads_exhausted'} end
if op ~= 'add' then return {'ok', encode(photos)} end
local photo = cjson.decode(ARGV[4])
photos[#photos + 1] = photo
redis.call('HSET', KEYS[1], 'photos', encode(photos))
redis.call('HINCRBY', KEYS[1], 'photos_added', 1)
audit('take_photo_added', {take_id = t[6], sitting_id = s[1], photo_id = photo.id, sha256 = photo.sha256,
                           size = photo.size, width = photo.width, height = photo.height, count = #photos})
return {'ok', encode(photos)}
