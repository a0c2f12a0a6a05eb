--[[
  Takes an LBS entry whose lock is gone: XCLAIM it, then lock it, atomically, so that a live
  owner's stream is never taken (its lock still exists) and two claimers never both win.
  KEYS[1]  LBS stream
  KEYS[2]  lock key of the entry
  KEYS[3]  the service's lock deadlines (sorted set)
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
local t = redis.call('TIME')
redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[3], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl, KEYS[2])
return {1, entry[2]}
