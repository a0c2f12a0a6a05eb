--[[
  Done with streams: for each, release the lock if it is ours, XACK and XDEL the LBS entry,
  atomically. Never acknowledges an entry whose lock another consumer holds, nor one that is
  pending for another consumer, nor one no longer pending at all unless this consumer still holds
  its lock (after Redis lost its data, the owner re-took the lock and may finish).
  KEYS[1]     LBS stream
  KEYS[2]     the service's data-stream names (hash: DataStreamName -> LBS id in charge)
  KEYS[3]     this consumer's set of lock keys
  KEYS[4..n]  lock key of each entry
  ARGV[1]     consumer group
  ARGV[2]     the owner: this consumer's name
  ARGV[3..]   pairs: LBS entry id, DataStreamName, for each lock key in order
  Returns     {codes, details}, one per entry:
                OK           released (if held), acknowledged and deleted; the committed
                             position and the fence beside the lock deleted
                HELD         the lock belongs to another consumer (details[i]): nothing changed
                NOT_PENDING  the entry went to another consumer (details[i]), or was finished
                             (false): nothing acknowledged; our lock released
  A lock this consumer holds means its entry is pending for it: only this library's claim moves
  an entry to another consumer, and only once the lock is gone. The pending list is looked up
  only for entries whose lock is gone.
]]
--!include codes
--!include pending
--!include entrykeys
local group, owner = ARGV[1], ARGV[2]
local codes, details, locks, forget, ids, names, seen = {}, {}, {}, {}, {}, {}, {}
for i = 4, #KEYS do
  local lock, j = KEYS[i], i - 3
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
      locks[#locks + 1] = committed_key(lock)
      locks[#locks + 1] = fence_key(lock)
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
