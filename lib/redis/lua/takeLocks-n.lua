--[[
  Hand-out: takes the locks of a batch of new LBS entries in one call (SET NX PX each), records
  them in this consumer's set of locks, and makes sure a data stream is handled by one LBS entry
  at a time.
  KEYS[1]     the service's consumer deadlines (sorted set: consumer -> deadline, ms, server clock)
  KEYS[2]     the service's data-stream names (hash: DataStreamName -> LBS id in charge)
  KEYS[3]     the LBS stream
  KEYS[4]     this consumer's set of lock keys
  KEYS[5..n+4] lock keys
  KEYS[n+5..2n+4] the fence beside each lock key, in the same order (entryKeysOf in lib/keys.ts)
  ARGV[1]     the owner: this consumer's name
  ARGV[2]     ttl, ms
  ARGV[3]     the consumer group
  ARGV[4]     the smallest LBS id of the batch
  ARGV[5]     the largest LBS id of the batch
  ARGV[6..]   pairs: DataStreamName, LBS id, for each lock key in order
  Returns     {codes, details}, one per lock key:
                OK           taken; details[i] = the stream's new fence (its fence key incremented)
                HELD         held by another consumer
                NOT_PENDING  no longer pending for this consumer (a read reply that arrived late,
                             after another consumer took the entry over)
                DUPLICATE    another, unfinished entry of the same data stream is in charge;
                             details[i] = its LBS id
]]
--!include codes
--!include deadline
--!include pending
local owner, ttl, group = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local n = (#KEYS - 4) / 2
-- Which entries of the batch are still pending for this consumer: one scan of its own pending
-- list over the batch's id range; an entry not found there is looked up alone.
local mine = {}
for _, row in ipairs(redis.call('XPENDING', KEYS[3], group, ARGV[4], ARGV[5], n, owner)) do
  mine[row[1]] = true
end
local codes, details, taken, names, inBatch = {}, {}, {}, {}, {}
for i = 1, n do
  local key, name, id = KEYS[i + 4], ARGV[2 * i + 4], ARGV[2 * i + 5]
  local ours = mine[id] or pending_owner(KEYS[3], group, id) == owner
  local current = ours and (inBatch[name] or redis.call('HGET', KEYS[2], name))
  if current and current ~= id then
    if not pending_owner(KEYS[3], group, current) and #redis.call('XRANGE', KEYS[3], current, current) == 0 then
      current = false
    end
  end
  details[i] = false
  if not ours then
    codes[i] = NOT_PENDING
  elseif current and current ~= id then
    codes[i] = DUPLICATE
    details[i] = current
  elseif redis.call('SET', key, owner, 'PX', ttl, 'NX') then
    taken[#taken + 1] = key
    inBatch[name] = id
    names[#names + 1] = name
    names[#names + 1] = id
    codes[i] = OK
    details[i] = redis.call('INCR', KEYS[n + i + 4])
  else
    codes[i] = HELD
  end
end
if #taken > 0 then
  redis.call('SADD', KEYS[4], unpack(taken))
  redis.call('HSET', KEYS[2], unpack(names))
  lower_deadline(KEYS[1], owner, ttl, false)
end
return {codes, details}
