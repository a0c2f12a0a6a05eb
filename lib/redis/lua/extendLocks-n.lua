--[[
  Heartbeat: extends every lock of one consumer in one call, and moves the consumer's deadline.
  KEYS[1]     the service's consumer deadlines (sorted set: consumer -> deadline, ms, server clock)
  KEYS[2]     the LBS stream
  KEYS[3]     the service's epoch key (a random value set with the group: a new value, or none,
              means Redis lost its data, e.g. restarted without persistence)
  KEYS[4]     this consumer's set of lock keys (what the reaper touches once the deadline passes)
  KEYS[5..n]  lock keys (<DataStreamName><separator><LBS id>)
  ARGV[1]     the owner: this consumer's name
  ARGV[2]     ttl, ms
  ARGV[3]     the consumer group
  ARGV[4]     the epoch this consumer saw at its last successful heartbeat
  ARGV[5]     1 for the first call of a tick (its deadline replaces the old one), 0 for the
              others (they run later, so their locks' deadlines are later: kept only if earlier)
  ARGV[6]     the lock-key separator
  ARGV[7..]   the fence this consumer knows for each lock key, in order (a re-take's new fence
              is above it even when Redis lost the fence key)
  Returns     {codes, fences, epoch}: epoch = the epoch now (false if none), fences[i] = the new
              fence of a re-taken lock (false otherwise), codes = one per lock key:
                OK           extended (the lock was ours)
                RETAKEN      the lock had vanished and its entry is still pending for this
                             consumer, or Redis lost its data (the epoch changed): set again with
                             NX, as the Go library does
                HELD         held by another consumer
                NOT_PENDING  vanished while its entry went to another consumer or was finished
]]
--!include codes
--!include deadline
--!include pending
--!include entrykeys
local owner, ttl, group, seen, sep = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[6]
local epoch = redis.call('GET', KEYS[3])
local dataLost = epoch ~= seen
local codes, fences, lost = {}, {}, {}
for i = 5, #KEYS do
  local key = KEYS[i]
  local holder = redis.call('GET', key)
  local code = HELD
  fences[i - 4] = false
  if holder == owner then
    redis.call('PEXPIRE', key, ttl)
    code = OK
  elseif not holder then
    local id = entry_id(key, sep)
    if dataLost or (id and pending_owner(KEYS[2], group, id) == owner) then
      redis.call('SET', key, owner, 'PX', ttl, 'NX')
      redis.call('SADD', KEYS[4], key)
      local fence = redis.call('INCR', fence_key(key))
      local known = tonumber(ARGV[i + 2]) or 0
      if fence <= known then
        fence = known + 1
        redis.call('SET', fence_key(key), fence)
      end
      fences[i - 4] = fence
      code = RETAKEN
    else
      code = NOT_PENDING
    end
  end
  if code == HELD or code == NOT_PENDING then
    lost[#lost + 1] = key
  end
  codes[i - 4] = code
end
if #lost > 0 then
  redis.call('SREM', KEYS[4], unpack(lost))
end
lower_deadline(KEYS[1], owner, ttl, ARGV[5] == '1')
return {codes, fences, epoch}
