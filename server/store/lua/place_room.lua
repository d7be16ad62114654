-- Where a room's media lives (server/nodes/placement.py, docs/nodes.md "Placement"), in one step, so
-- that two nodes placing the same room at once, or re-homing it after its node died, agree on one.
-- KEYS[1] the room's claim (mediaroom:{room}), KEYS[2] the registry's set of processes (nodes).
-- ARGV[1] node hash prefix (<prefix>node:), ARGV[2] relay channel prefix (<prefix>relay:),
-- ARGV[3] now (epoch s), ARGV[4] a beat older than this many seconds is a dead node,
-- ARGV[5] the claim's TTL (s), ARGV[6] "place" (choose a node when none lives) or "peek" (only say
-- who holds it), ARGV[7] a random string (ties between equally loaded nodes), ARGV[8] CPU % above
-- which a node is chosen only when every node is above it, ARGV[9] the asking node's process (preferred
-- when it is as loaded as the least loaded: its participants' signalling needs no relay then).
-- Returns {"held", process} (a live node holds it), {"placed", process, old holder or ""} (chosen now),
-- {"none", old holder or ""} (peek found no live holder, or no node can take a room).
local now, max_age = tonumber(ARGV[3]), tonumber(ARGV[4])

-- a node is alive while its beat is fresh and it listens on its relay channel (a killed process's
-- subscription is dropped by Redis as soon as the kernel closes its connection)
local function alive(process)
  local beat = redis.call("HGET", ARGV[1] .. process, "beat_at")
  if not beat or now - tonumber(beat) > max_age then
    return false
  end
  return redis.call("PUBSUB", "NUMSUB", ARGV[2] .. process)[2] > 0
end

local holder = redis.call("GET", KEYS[1])
if holder and alive(holder) then
  return {"held", holder}
end
local old = holder or ""
if ARGV[6] ~= "place" then
  return {"none", old}
end

-- the least loaded live node that takes rooms: below the CPU mark first, then fewest rooms, then fewest
-- participants, then the asking node, then a random order
local best, best_key = nil, nil
for _, process in ipairs(redis.call("SMEMBERS", KEYS[2])) do
  local f = redis.call("HMGET", ARGV[1] .. process, "beat_at", "draining", "rooms", "participants", "cpu_pct", "max_rooms")
  if f[1] and now - tonumber(f[1]) <= max_age and f[2] ~= "1" and redis.call("PUBSUB", "NUMSUB", ARGV[2] .. process)[2] > 0 then
    local rooms, limit = tonumber(f[3] or "0"), tonumber(f[6] or "0")
    if limit == 0 or rooms < limit then
      local hot = (tonumber(f[5] or "0") >= tonumber(ARGV[8])) and 1 or 0
      local other = (process == ARGV[9]) and 0 or 1
      local key = {hot, rooms, tonumber(f[4] or "0"), other, redis.sha1hex(process .. ARGV[7])}
      local better = best_key == nil
      if not better then
        for i = 1, 5 do
          if key[i] ~= best_key[i] then
            better = key[i] < best_key[i]
            break
          end
        end
      end
      if better then
        best, best_key = process, key
      end
    end
  end
end
if best == nil then
  return {"none", old}
end
redis.call("SET", KEYS[1], best, "EX", tonumber(ARGV[5]))
-- counted at once, so that rooms placed in a burst spread out before the nodes' next beats
redis.call("HINCRBY", ARGV[1] .. best, "rooms", 1)
return {"placed", best, old}
