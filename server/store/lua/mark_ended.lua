-- A live interview ended ("结束面试" -> done, or removed): its end is kept, and a done interview goes
-- on the unfinished marking list of every examiner of its panel who has not sealed a sheet of it.
-- Only the first end counts (a later removal from the line does not touch an ended admission).
-- KEYS[1] interview hash, KEYS[2] its marks hash, KEYS[3..] the panel's unmarked zsets
-- ARGV[1] now, ARGV[2] state (done | removed), ARGV[3] interview id, ARGV[4..] the panel's ids (as KEYS[3..])
-- Returns 'ok' or 'ignored'.
if redis.call('EXISTS', KEYS[1]) == 0 then return 'ignored' end
local ended = redis.call('HGET', KEYS[1], 'ended_at')
if ended and ended ~= '' then return 'ignored' end
redis.call('HSET', KEYS[1], 'ended_at', ARGV[1], 'state', ARGV[2])
if ARGV[2] == 'done' then
  for i = 3, #KEYS do
    if redis.call('HGET', KEYS[2], 'state:' .. ARGV[i + 1]) ~= 'sealed' then
      redis.call('ZADD', KEYS[i], ARGV[1], ARGV[3])
    end
  end
end
return 'ok'
