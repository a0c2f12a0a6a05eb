--[[
  Reads the PTTL of each lock: the lock reads of one event-loop turn (`touchLock`: a hand-back
  waiting for Redis to delete its lock, an expiry held back and asked about again, the recovery
  sweep) as one call, where a pipeline would cost the client a command of its own per lock.
  Reading a key past its TTL makes Redis delete it at once and publish `expired`, as PTTL alone does.
  KEYS[1..n]  lock keys
  Returns     the PTTL of each, in order (-2: gone, -1: no TTL)
]]
local ttls = {}
for i = 1, #KEYS do
  ttls[i] = redis.call('PTTL', KEYS[i])
end
return ttls
