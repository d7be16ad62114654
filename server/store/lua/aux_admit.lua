-- Admit a device for a candidate's auxiliary camera: at most ARGV[2] different devices per
-- candidate and exam in one admission, whatever the number of QR codes, and only with a code of
-- the current generation whose session still exists.
-- KEYS[1] aux:{exam}:{account} hash (session, gen); KEYS[2] aux:{exam}:{account}:devices set;
-- KEYS[3] account:{account} hash
-- ARGV[1] device id, ARGV[2] limit, ARGV[3] the code's generation, ARGV[4] seconds to keep the set,
-- ARGV[5] the session key prefix (keys.session(""))
-- Returns {1, session key hash} when the device may connect, else {0, why}: 'logged_out' (the session
-- that made the code is over), 'replaced' (a newer code: another login, or the interview ended),
-- 'limit' (the candidate's devices are all taken).
local session = redis.call('HGET', KEYS[1], 'session')
local gen = redis.call('HGET', KEYS[1], 'gen')
if not session or gen ~= ARGV[3] then return {0, 'replaced'} end
if redis.call('EXISTS', ARGV[5] .. session) == 0 then return {0, 'logged_out'} end
if redis.call('HGET', KEYS[3], 'disabled') == '1' then return {0, 'logged_out'} end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return {1, session} end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return {0, 'limit'} end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return {1, session}
