--[[
  Reaper: touches locks past their deadline. Reading a key past its TTL makes Redis delete it at
  once and publish `expired`, instead of waiting for its background expiry cycle to sample it.
  KEYS[1]     the service's lock deadlines (sorted set)
  KEYS[2..n]  lock keys listed as overdue
  Returns     the number of locks found gone (expired now, or vanished earlier)
  A lock that is still alive (its owner extended it meanwhile, or a consumer that does not record
  deadlines holds it) gets its deadline corrected from its remaining TTL, so it is looked at again
  only when it is due.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = 0
for i = 2, #KEYS do
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl >= 0 then
    redis.call('ZADD', KEYS[1], now + ttl, KEYS[i])
  else
    redis.call('ZREM', KEYS[1], KEYS[i])
    if ttl == -2 then gone = gone + 1 end
  end
end
return gone
