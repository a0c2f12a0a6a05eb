--[[
  Heartbeat: extends every lock of one consumer in one call, and moves the consumer's deadline.
  KEYS[1]     the service's consumer deadlines (sorted set: consumer -> deadline, ms, server clock)
  KEYS[2]     the LBS stream
  KEYS[3]     the service's epoch key (a random value set with the group: a new value, or none,
              means Redis lost its data, e.g. restarted without persistence)
  KEYS[4]     this consumer's set of lock keys (what the reaper touches once the deadline passes)
  KEYS[5..n]  lock keys (<DataStreamName><MUTEX_KEY_SEP><LBS id>)
  ARGV[1]     the owner: this consumer's name
  ARGV[2]     ttl, ms
  ARGV[3]     the consumer group
  ARGV[4]     the epoch this consumer saw at its last successful heartbeat
  ARGV[5]     1 for the first call of a tick (its deadline replaces the old one), 0 for the
              others (they run later, so their locks' deadlines are later: kept only if earlier)
  Returns     {codes, epoch}: epoch = the epoch now (false if none), codes = one per lock key:
                1  extended (the lock was ours)
                2  re-taken: the lock had vanished and its entry is still pending for this
                   consumer, or Redis lost its data (the epoch changed): set again with NX,
                   as the Go library does
                0  lost: held by another consumer, or vanished while its entry went to another
                   consumer or was finished
]]
local owner, ttl, group, seen = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local epoch = redis.call('GET', KEYS[3])
local dataLost = epoch ~= seen
local codes, lost = {}, {}
for i = 5, #KEYS do
  local key = KEYS[i]
  local holder = redis.call('GET', key)
  local code = 0
  if holder == owner then
    redis.call('PEXPIRE', key, ttl)
    code = 1
  elseif not holder then
    local retake = dataLost
    if not retake then
      local id = string.match(key, '<MUTEX_KEY_SEP>(%d+%-%d+)$')
      local pending = redis.call('XPENDING', KEYS[2], group, id, id, 1)
      retake = pending[1] ~= nil and pending[1][2] == owner
    end
    if retake then
      redis.call('SET', key, owner, 'PX', ttl, 'NX')
      redis.call('SADD', KEYS[4], key)
      code = 2
    end
  end
  if code == 0 then
    lost[#lost + 1] = key
  end
  codes[i - 4] = code
end
if #lost > 0 then
  redis.call('SREM', KEYS[4], unpack(lost))
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = tonumber(redis.call('ZSCORE', KEYS[1], owner))
if ARGV[5] == '1' or not current or current < now or current > now + ttl then
  redis.call('ZADD', KEYS[1], now + ttl, owner)
end
return {codes, epoch}
