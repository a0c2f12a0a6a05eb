--[[
  Hand-out: takes the locks of a batch of new LBS entries in one call (SET NX PX each), records
  them in this consumer's set of locks, and makes sure a data stream is handled by one LBS entry
  at a time.
  KEYS[1]     the service's consumer deadlines (sorted set: consumer -> deadline, ms, server clock)
  KEYS[2]     the service's data-stream names (hash: DataStreamName -> LBS id in charge)
  KEYS[3]     the LBS stream
  KEYS[4]     this consumer's set of lock keys
  KEYS[5..n]  lock keys
  ARGV[1]     the owner: this consumer's name
  ARGV[2]     ttl, ms
  ARGV[3]     the consumer group
  ARGV[4..]   pairs: DataStreamName, LBS id, for each lock key in order
  Returns     one code per lock key: 1 taken; 0 held by another consumer, or no longer pending for
              this consumer (a read reply that arrived late, after another consumer took the
              entry over); or the LBS id of another, unfinished entry of the same data stream
              (this entry is a duplicate)
]]
local owner, ttl, group = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local codes = {}
local taken = 0
for i = 5, #KEYS do
  local name, id = ARGV[2 * (i - 4) + 2], ARGV[2 * (i - 4) + 3]
  local current = redis.call('HGET', KEYS[2], name)
  if current and current ~= id then
    local pending = redis.call('XPENDING', KEYS[3], group, current, current, 1)
    local exists = #redis.call('XRANGE', KEYS[3], current, current) > 0
    if not pending[1] and not exists then
      current = false
    end
  end
  local mine = redis.call('XPENDING', KEYS[3], group, id, id, 1)[1]
  if not mine or mine[2] ~= owner then
    codes[i - 4] = 0
  elseif current and current ~= id then
    codes[i - 4] = current
  elseif redis.call('SET', KEYS[i], owner, 'PX', ttl, 'NX') then
    redis.call('SADD', KEYS[4], KEYS[i])
    redis.call('HSET', KEYS[2], name, id)
    codes[i - 4] = 1
    taken = taken + 1
  else
    codes[i - 4] = 0
  end
end
if taken > 0 then
  -- The consumer's deadline: its earliest lock's. Set when absent, stale (past) or later than these locks'.
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local current = tonumber(redis.call('ZSCORE', KEYS[1], owner))
  if not current or current < now or current > now + ttl then
    redis.call('ZADD', KEYS[1], now + ttl, owner)
  end
end
return codes
