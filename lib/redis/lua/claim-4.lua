--[[
  Takes an LBS entry whose lock is gone: XCLAIM it, then lock it, atomically, so that a live
  owner's stream is never taken (its lock still exists) and two claimers never both win.
  KEYS[1]  LBS stream
  KEYS[2]  lock key of the entry
  KEYS[3]  the service's consumer deadlines (sorted set: consumer -> deadline, ms, server clock)
  KEYS[4]  the claimer's set of lock keys
  ARGV[1]  consumer group
  ARGV[2]  the claimer: this consumer's name
  ARGV[3]  min-idle, ms (XCLAIM refuses entries delivered more recently than this)
  ARGV[4]  LBS entry id
  ARGV[5]  lock ttl, ms
  Returns  {1, fields}   claimed; fields = the entry's flat field/value list
           {0, holder}   the lock is held by another consumer
           {-1}          XCLAIM took nothing (not pending, deleted, or delivered too recently)
]]
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[2] then
  return {0, holder}
end
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
local entry = claimed[1]
if not entry or not entry[2] then
  return {-1}
end
local ttl = tonumber(ARGV[5])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
redis.call('SADD', KEYS[4], KEYS[2])
-- The claimer's deadline: its earliest lock's. Set when absent, stale (past) or later than this lock's.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[2]))
if not current or current < now or current > now + ttl then
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[2])
end
return {1, entry[2]}
