--[[
  Done with streams: for each, release the lock if it is ours, XACK and XDEL the LBS entry,
  atomically. Never acknowledges an entry whose lock another consumer holds, nor one that is
  pending for another consumer, nor one no longer pending at all unless this consumer still holds
  its lock (after Redis lost its data, the owner re-took the lock and may finish).
  KEYS[1]     LBS stream
  KEYS[2]     the service's data-stream names (hash: DataStreamName -> LBS id in charge)
  KEYS[3]     this consumer's set of lock keys
  KEYS[4..n+3] lock key of each entry
  KEYS[n+4..2n+3] the committed position beside each lock key, in the same order
  KEYS[2n+4..3n+3] the fence beside each lock key, in the same order (entryKeysOf in lib/keys.ts)
  ARGV[1]     consumer group
  ARGV[2]     the owner: this consumer's name
  ARGV[3..]   pairs: LBS entry id, DataStreamName, for each lock key in order
  Returns     {codes, details}, one per entry:
                OK           released (if held), acknowledged and deleted; the committed
                             position and the fence beside the lock deleted
                HELD         the lock belongs to another consumer (details[i]): nothing changed
                NOT_PENDING  the entry went to another consumer (details[i]), or was finished
                             (false): nothing acknowledged; our lock released
  A lock this consumer holds means the stream is its own, wherever the entry is pending: this
  library's claim moves an entry only once the lock is gone, but a Go consumer's XCLAIM (before
  its lock check) or start-up XAUTOCLAIM (which ignores locks) can move an entry whose lock is
  ours into its own pending list. XACK is group-wide, so such an entry is finished all the same.
  The pending list is looked up only for entries whose lock is gone.
]]
--!include codes
--!include pending
local group, owner = ARGV[1], ARGV[2]
local n = (#KEYS - 3) / 3
local codes, details, locks, forget, ids, names, seen = {}, {}, {}, {}, {}, {}, {}
for j = 1, n do
  local lock = KEYS[j + 3]
  local id, name = ARGV[2 * j + 1], ARGV[2 * j + 2]
  local holder = redis.call('GET', lock)
  local code, detail = OK, false
  if seen[lock] then
    code = NOT_PENDING
  elseif holder and holder ~= owner then
    code, detail = HELD, holder
  else
    if holder then
      locks[#locks + 1] = lock
    else
      local pending = pending_owner(KEYS[1], group, id)
      if pending ~= owner then
        code, detail = NOT_PENDING, pending
      end
    end
    seen[lock] = true
    forget[#forget + 1] = lock
    if code == OK then
      locks[#locks + 1] = KEYS[n + j + 3]
      locks[#locks + 1] = KEYS[2 * n + j + 3]
      ids[#ids + 1] = id
      names[#names + 1] = name
    end
  end
  codes[j], details[j] = code, detail
end
if #locks > 0 then
  redis.call('DEL', unpack(locks))
end
if #forget > 0 then
  redis.call('SREM', KEYS[3], unpack(forget))
end
if #ids > 0 then
  redis.call('XACK', KEYS[1], group, unpack(ids))
  redis.call('XDEL', KEYS[1], unpack(ids))
  local charge = redis.call('HMGET', KEYS[2], unpack(names))
  local done = {}
  for j = 1, #names do
    if charge[j] == ids[j] then done[#done + 1] = names[j] end
  end
  if #done > 0 then
    redis.call('HDEL', KEYS[2], unpack(done))
  end
end
return {codes, details}
