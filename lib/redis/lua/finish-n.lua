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
  Returns     one result per entry:
                {1}          released (if held), acknowledged and deleted
                {0, holder}  the lock belongs to another consumer: nothing changed
                {-1, holder} the entry went to another consumer (holder), or was finished
                             (false): nothing acknowledged; our lock released
]]
local group, owner = ARGV[1], ARGV[2]
local results = {}
for i = 4, #KEYS do
  local lock = KEYS[i]
  local id, name = ARGV[2 * (i - 3) + 1], ARGV[2 * (i - 3) + 2]
  local holder = redis.call('GET', lock)
  if holder and holder ~= owner then
    results[i - 3] = {0, holder}
  else
    local pending = redis.call('XPENDING', KEYS[1], group, id, id, 1)[1]
    if holder then
      redis.call('DEL', lock)
    end
    redis.call('SREM', KEYS[3], lock)
    if (pending and pending[2] ~= owner) or (not pending and holder ~= owner) then
      results[i - 3] = {-1, pending and pending[2] or false}
    else
      redis.call('XACK', KEYS[1], group, id)
      redis.call('XDEL', KEYS[1], id)
      if redis.call('HGET', KEYS[2], name) == id then
        redis.call('HDEL', KEYS[2], name)
      end
      results[i - 3] = {1}
    end
  end
end
return results
