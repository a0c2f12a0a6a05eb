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
  ARGV[4]     the smallest LBS id of the batch
  ARGV[5]     the largest LBS id of the batch
  ARGV[6..]   pairs: DataStreamName, LBS id, for each lock key in order
  Returns     one code per lock key: 1 taken; 0 held by another consumer, or no longer pending for
              this consumer (a read reply that arrived late, after another consumer took the
              entry over); or the LBS id of another, unfinished entry of the same data stream
              (this entry is a duplicate)
]]
local owner, ttl, group = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local n = #KEYS - 4
-- Which entries of the batch are still pending for this consumer: one scan of its own pending
-- list over the batch's id range; an entry not found there is looked up alone.
local mine = {}
for _, row in ipairs(redis.call('XPENDING', KEYS[3], group, ARGV[4], ARGV[5], n, owner)) do
  mine[row[1]] = true
end
local codes, taken, names, inBatch = {}, {}, {}, {}
for i = 1, n do
  local key, name, id = KEYS[i + 4], ARGV[2 * i + 4], ARGV[2 * i + 5]
  local ours = mine[id]
  if not ours then
    local row = redis.call('XPENDING', KEYS[3], group, id, id, 1)[1]
    ours = row ~= nil and row[2] == owner
  end
  local current = ours and (inBatch[name] or redis.call('HGET', KEYS[2], name))
  if current and current ~= id then
    local pending = redis.call('XPENDING', KEYS[3], group, current, current, 1)
    if not pending[1] and #redis.call('XRANGE', KEYS[3], current, current) == 0 then
      current = false
    end
  end
  if not ours then
    codes[i] = 0
  elseif current and current ~= id then
    codes[i] = current
  elseif redis.call('SET', key, owner, 'PX', ttl, 'NX') then
    taken[#taken + 1] = key
    inBatch[name] = id
    names[#names + 1] = name
    names[#names + 1] = id
    codes[i] = 1
  else
    codes[i] = 0
  end
end
if #taken > 0 then
  redis.call('SADD', KEYS[4], unpack(taken))
  redis.call('HSET', KEYS[2], unpack(names))
  -- The consumer's deadline: its earliest lock's. Set when absent, stale (past) or later than these locks'.
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local current = tonumber(redis.call('ZSCORE', KEYS[1], owner))
  if not current or current < now or current > now + ttl then
    redis.call('ZADD', KEYS[1], now + ttl, owner)
  end
end
return codes
