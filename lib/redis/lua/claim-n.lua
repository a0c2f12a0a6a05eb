--[[
  Takes LBS entries whose lock is gone: for each, XCLAIM it, then lock it, atomically, so that a
  live owner's stream is never taken (its lock still exists) and two claimers never both win.
  KEYS[1]     LBS stream
  KEYS[2]     the service's consumer deadlines (sorted set: consumer -> deadline, ms, server clock)
  KEYS[3]     the claimer's set of lock keys
  KEYS[4]     the service's data-stream names (hash: DataStreamName -> LBS id in charge)
  KEYS[5..n+4] lock key of each entry
  KEYS[n+5..2n+4] the fence beside each lock key, in the same order (entryKeysOf in lib/keys.ts)
  ARGV[1]     consumer group
  ARGV[2]     the claimer: this consumer's name
  ARGV[3]     lock ttl, ms
  ARGV[4..]   triples: LBS entry id, min-idle in ms (XCLAIM refuses entries delivered more
              recently than this), DataStreamName, for each lock key in order
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
                DUPLICATE    another, unfinished entry of the same data stream is in charge
                             (details[i] = its LBS id): nothing taken, so that a data stream has
                             one owner at a time even when the reader of a second entry for it
                             died before its hand-out dead-lettered it (the entry waits, pending,
                             until the first is finished)
]]
--!include codes
--!include deadline
--!include pending
local group, claimer, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local n = (#KEYS - 4) / 2
local codes, details, fences, taken = {}, {}, {}, {}
for j = 1, n do
  local lock, fenceKey = KEYS[j + 4], KEYS[n + j + 4]
  local id, minIdle, name = ARGV[3 * j + 1], ARGV[3 * j + 2], ARGV[3 * j + 3]
  local holder = redis.call('GET', lock)
  details[j] = false
  fences[j] = false
  -- The entry in charge of the data stream, unless it is finished (neither pending nor in the LBS).
  local current = redis.call('HGET', KEYS[4], name)
  if current and current ~= id and not pending_owner(KEYS[1], group, current) and #redis.call('XRANGE', KEYS[1], current, current) == 0 then
    current = false
  end
  if holder and holder ~= claimer then
    codes[j] = HELD
    details[j] = holder
  elseif current and current ~= id then
    codes[j] = DUPLICATE
    details[j] = current
  else
    local entry = redis.call('XCLAIM', KEYS[1], group, claimer, minIdle, id)[1]
    if not entry or not entry[2] then
      codes[j] = NOT_PENDING
    else
      redis.call('SET', lock, claimer, 'PX', ttl)
      if current ~= id then
        redis.call('HSET', KEYS[4], name, id)
      end
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
