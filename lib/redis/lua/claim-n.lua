--[[
  Takes LBS entries whose lock is gone: for each, XCLAIM it, then lock it, atomically, so that a
  live owner's stream is never taken (its lock still exists) and two claimers never both win.
  KEYS[1]     LBS stream
  KEYS[2]     the service's consumer deadlines (sorted set: consumer -> deadline, ms, server clock)
  KEYS[3]     the claimer's set of lock keys
  KEYS[4..n+3] lock key of each entry
  KEYS[n+4..2n+3] the fence beside each lock key, in the same order (entryKeysOf in lib/keys.ts)
  ARGV[1]     consumer group
  ARGV[2]     the claimer: this consumer's name
  ARGV[3]     lock ttl, ms
  ARGV[4..]   pairs: LBS entry id, min-idle in ms (XCLAIM refuses entries delivered more
              recently than this), for each lock key in order
  Returns     {codes, details, fences}, one per entry:
                OK           claimed; details[i] = the entry's flat field/value list,
                             fences[i] = the stream's new fence (its fence key incremented)
                RETAKEN      claimed, and the lock was already the claimer's: the entry came back
                             from another consumer's pending list (a Go consumer's XCLAIM or
                             XAUTOCLAIM moves entries without looking at locks, or this consumer
                             dropped the stream while the lock still read as its own); details
                             and fences as OK: the fence grows here too, since a consumer that
                             dropped the stream starts a new take of it (one that never stopped
                             owning it goes on under its fence, still the highest any take used)
                HELD         the lock is held by another consumer; details[i] = the holder
                NOT_PENDING  XCLAIM took nothing (not pending, deleted, or delivered too recently)
]]
--!include codes
--!include deadline
local group, claimer, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local n = (#KEYS - 3) / 2
local codes, details, fences, taken = {}, {}, {}, {}
for j = 1, n do
  local lock, fenceKey = KEYS[j + 3], KEYS[n + j + 3]
  local id, minIdle = ARGV[2 * j + 2], ARGV[2 * j + 3]
  local holder = redis.call('GET', lock)
  details[j] = false
  fences[j] = false
  if holder and holder ~= claimer then
    codes[j] = HELD
    details[j] = holder
  else
    local entry = redis.call('XCLAIM', KEYS[1], group, claimer, minIdle, id)[1]
    if not entry or not entry[2] then
      codes[j] = NOT_PENDING
    else
      redis.call('SET', lock, claimer, 'PX', ttl)
      taken[#taken + 1] = lock
      codes[j] = holder and RETAKEN or OK
      details[j] = entry[2]
      fences[j] = redis.call('INCR', fenceKey)
    end
  end
end
if #taken > 0 then
  redis.call('SADD', KEYS[3], unpack(taken))
  lower_deadline(KEYS[2], claimer, ttl, false)
end
return {codes, details, fences}
