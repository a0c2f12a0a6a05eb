--[[
  Compare-and-delete: removes a lock only if this consumer holds it.
  KEYS[1]  lock key
  KEYS[2]  this consumer's set of lock keys
  ARGV[1]  the owner: this consumer's name
  Returns  1 deleted, 0 not ours (or already gone)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SREM', KEYS[2], KEYS[1])
  return redis.call('DEL', KEYS[1])
end
return 0
