--[[
  Extends one lock if this consumer holds it: the heartbeat's fallback while a Cluster moves the
  slot of a partition key by key. The batch script (extendLocks-n.lua) declares keys that are
  then on two nodes, and every node refuses it (TRYAGAIN) until the move ends; a call on one key
  is redirected (ASK) to wherever that key is. It neither re-takes a vanished lock nor moves the
  deadline: the next batch call does, once the slot is on one node again.
  KEYS[1]  lock key
  ARGV[1]  the owner: this consumer's name
  ARGV[2]  ttl, ms
  Returns  OK extended; HELD held by another consumer; NOT_PENDING gone (left to the batch call)
]]
--!include codes
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return OK
end
if holder then
  return HELD
end
return NOT_PENDING
