--[[
  Hands a lock back: makes it expire in 1 ms if this consumer holds it. Once Redis deletes it
  (the client reads it right after), every consumer hears an ordinary `expired` keyspace event,
  exactly as if the owner had died, so Go and TypeScript consumers alike claim it.
  KEYS[1]  lock key
  KEYS[2]  this consumer's set of lock keys
  ARGV[1]  the owner: this consumer's name
  Returns  OK set to expire; HELD not ours (or already gone)
]]
--!include codes
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return HELD
end
redis.call('SREM', KEYS[2], KEYS[1])
redis.call('PEXPIRE', KEYS[1], 1)
return OK
