--[[
  Hands a lock back: makes it expire in 1 ms if this consumer holds it. Once Redis deletes it
  (the client touches it right after, and the reaper would otherwise), every consumer hears an
  ordinary `expired` keyspace event, exactly as if the owner had died, so Go and TypeScript
  consumers alike claim it.
  KEYS[1]  lock key
  KEYS[2]  the service's lock deadlines (sorted set)
  ARGV[1]  the owner: this consumer's name
  Returns  1 set to expire, 0 not ours (or already gone)
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + 1, KEYS[1])
return redis.call('PEXPIRE', KEYS[1], 1)
