--[[
  Done with a stream: release the lock if it is ours, XACK and XDEL the LBS entry, atomically.
  Never acknowledges an entry whose lock another consumer holds, nor one that is pending for
  another consumer, nor one no longer pending at all unless this consumer still holds its lock
  (after Redis lost its data, the owner re-took the lock and may finish).
  KEYS[1]  LBS stream
  KEYS[2]  lock key of the entry
  KEYS[3]  the service's lock deadlines (sorted set)
  KEYS[4]  the service's data-stream names (hash: DataStreamName -> LBS id in charge)
  ARGV[1]  consumer group
  ARGV[2]  LBS entry id
  ARGV[3]  the owner: this consumer's name
  ARGV[4]  the DataStreamName
  Returns  {1}          released (if held), acknowledged and deleted
           {0, holder}  the lock belongs to another consumer: nothing changed
           {-1, holder} the entry went to another consumer (holder), or was finished (false):
                        nothing acknowledged; our lock released
]]
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[3] then
  return {0, holder}
end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if holder then
  redis.call('DEL', KEYS[2])
end
redis.call('ZREM', KEYS[3], KEYS[2])
local elsewhere = pending[1] and pending[1][2] ~= ARGV[3]
if elsewhere or (not pending[1] and holder ~= ARGV[3]) then
  return {-1, pending[1] and pending[1][2] or false}
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[4], ARGV[4]) == ARGV[2] then
  redis.call('HDEL', KEYS[4], ARGV[4])
end
return {1}
