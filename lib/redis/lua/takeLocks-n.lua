--[[
  Hand-out: takes the locks of a batch of new LBS entries in one call (SET NX PX each), and
  records each deadline.
  KEYS[1]     the service's lock deadlines (sorted set)
  KEYS[2..n]  lock keys
  ARGV[1]     the owner: this consumer's name
  ARGV[2]     ttl, ms
  Returns     one code per lock key: 1 taken, 0 held by another consumer
]]
local owner, ttl = ARGV[1], tonumber(ARGV[2])
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl
local codes = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], owner, 'PX', ttl, 'NX') then
    redis.call('ZADD', KEYS[1], deadline, KEYS[i])
    codes[i - 1] = 1
  else
    codes[i - 1] = 0
  end
end
return codes
