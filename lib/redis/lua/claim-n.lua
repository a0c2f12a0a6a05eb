--[[
  Takes LBS entries whose lock is gone: for each, XCLAIM it, then lock it, atomically, so that a
  live owner's stream is never taken (its lock still exists) and two claimers never both win.
  KEYS[1]     LBS stream
  KEYS[2]     the service's consumer deadlines (sorted set: consumer -> deadline, ms, server clock)
  KEYS[3]     the claimer's set of lock keys
  KEYS[4..n]  lock key of each entry
  ARGV[1]     consumer group
  ARGV[2]     the claimer: this consumer's name
  ARGV[3]     lock ttl, ms
  ARGV[4..]   pairs: LBS entry id, min-idle in ms (XCLAIM refuses entries delivered more
              recently than this), for each lock key in order
  Returns     one result per entry:
                {1, fields}   claimed; fields = the entry's flat field/value list
                {0, holder}   the lock is held by another consumer
                {-1}          XCLAIM took nothing (not pending, deleted, or delivered too recently)
]]
local group, claimer, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local results, taken = {}, {}
for i = 4, #KEYS do
  local lock = KEYS[i]
  local id, minIdle = ARGV[2 * (i - 3) + 2], ARGV[2 * (i - 3) + 3]
  local holder = redis.call('GET', lock)
  if holder and holder ~= claimer then
    results[i - 3] = {0, holder}
  else
    local entry = redis.call('XCLAIM', KEYS[1], group, claimer, minIdle, id)[1]
    if not entry or not entry[2] then
      results[i - 3] = {-1}
    else
      redis.call('SET', lock, claimer, 'PX', ttl)
      taken[#taken + 1] = lock
      results[i - 3] = {1, entry[2]}
    end
  end
end
if #taken > 0 then
  redis.call('SADD', KEYS[3], unpack(taken))
  -- The claimer's deadline: its earliest lock's. Set when absent, stale (past) or later than these locks'.
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local current = tonumber(redis.call('ZSCORE', KEYS[2], claimer))
  if not current or current < now or current > now + ttl then
    redis.call('ZADD', KEYS[2], now + ttl, claimer)
  end
end
return results
