--[[
  Done with a stream: release the lock if it is ours, XACK and XDEL the LBS entry, atomically.
  Never acknowledges an entry whose lock another consumer holds.
  KEYS[1]  LBS stream
  KEYS[2]  lock key of the entry
  ARGV[1]  consumer group
  ARGV[2]  LBS entry id
  ARGV[3]  the owner: this consumer's name
  Returns  {1}          released (if held), acknowledged and deleted
           {0, holder}  the lock belongs to another consumer: nothing changed
]]
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[3] then
  return {0, holder}
end
if holder then
  redis.call('DEL', KEYS[2])
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return {1}
