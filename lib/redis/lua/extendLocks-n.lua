--[[
  Heartbeat: extends every lock of one consumer in one call, and moves the consumer's deadline.
  KEYS[1]     the service's consumer deadlines (sorted set: consumer -> deadline, ms, server clock)
  KEYS[2]     the LBS stream
  KEYS[3]     the service's epoch key (a random value set with the group: a new value, or none,
              means Redis lost its data, e.g. restarted without persistence)
  KEYS[4]     this consumer's set of lock keys (what the reaper touches once the deadline passes)
  KEYS[5]     the service's members (hash: consumer -> '<capacity> <owned> <joinedAt> <incarnation> <seenAt>')
  KEYS[6..m+5]     lock keys (<DataStreamName><separator><LBS id>)
  KEYS[m+6..2m+5]  the fence beside each lock key, in the same order (entryKeysOf in lib/keys.ts):
              declared, as every key a script touches, so that a Cluster moving the slot key by
              key redirects the call (ASK, TRYAGAIN) instead of failing a re-take half done, its
              lock set and its fence refused as a key no longer on this node
  ARGV[1]     the owner: this consumer's name
  ARGV[2]     ttl, ms
  ARGV[3]     the consumer group
  ARGV[4]     the epoch this consumer saw at its last successful heartbeat
  ARGV[5]     1 for the first call of a tick (its deadline replaces the old one), 0 for the
              others (they run later, so their locks' deadlines are later: kept only if earlier)
              and for a tick that extends only the locks taken while an older call is in flight
              (the older locks' expiry stays the deadline)
  ARGV[6]     the lock-key separator
  ARGV[7]     this consumer's member record '<capacity> <owned> <incarnation>' (capacity -1:
              unlimited), or '' (the tick's other calls): the first call writes it, keeps its
              joinedAt while the incarnation is the same and was seen within ARGV[8], prunes
              members not seen for 5 * ARGV[8], and returns the registry
  ARGV[8]     the membership TTL, ms
  ARGV[9..]   the fence this consumer knows for each lock key, in order (a re-take's new fence
              is above it even when Redis lost the fence key)
  Returns     {codes, fences, epoch, members, now}: epoch = the epoch now (false if none),
              fences[i] = the new fence of a re-taken lock (false otherwise), members = the
              registry as a flat field/value list (false when ARGV[7] is ''), now = the Redis
              clock (ms); codes = one per lock key:
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
local owner, ttl, group, seen, sep = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[6]
local epoch = redis.call('GET', KEYS[3])
local dataLost = epoch ~= seen
local codes, fences, lost = {}, {}, {}
local m = (#KEYS - 5) / 2
for i = 6, m + 5 do
  local key, fenceKey = KEYS[i], KEYS[i + m]
  local holder = redis.call('GET', key)
  local code = HELD
  fences[i - 5] = false
  if holder == owner then
    redis.call('PEXPIRE', key, ttl)
    code = OK
  elseif not holder then
    local id = entry_id(key, sep)
    if dataLost or (id and pending_owner(KEYS[2], group, id) == owner) then
      redis.call('SET', key, owner, 'PX', ttl, 'NX')
      redis.call('SADD', KEYS[4], key)
      local fence = redis.call('INCR', fenceKey)
      local known = tonumber(ARGV[i + 3]) or 0
      if fence <= known then
        fence = known + 1
        redis.call('SET', fenceKey, fence)
      end
      fences[i - 5] = fence
      code = RETAKEN
    else
      code = NOT_PENDING
    end
  end
  if code == HELD or code == NOT_PENDING then
    lost[#lost + 1] = key
  end
  codes[i - 5] = code
end
if #lost > 0 then
  redis.call('SREM', KEYS[4], unpack(lost))
end
if #KEYS > 5 then
  lower_deadline(KEYS[1], owner, ttl, ARGV[5] == '1')
end
local members, now = false, now_ms()
if ARGV[7] ~= '' then
  local memberTtl = tonumber(ARGV[8])
  local capacity, owned, incarnation = string.match(ARGV[7], '^(%S+) (%S+) (%S+)$')
  local joined = now
  local old = redis.call('HGET', KEYS[5], owner)
  if old then
    local _, _, oldJoined, oldIncarnation, oldSeen = string.match(old, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
    if oldIncarnation == incarnation and tonumber(oldSeen) >= now - memberTtl then
      joined = tonumber(oldJoined)
    end
  end
  redis.call('HSET', KEYS[5], owner, string.format('%s %s %.0f %s %.0f', capacity, owned, joined, incarnation, now))
  members = redis.call('HGETALL', KEYS[5])
  local gone = {}
  for j = 2, #members, 2 do
    local seen = tonumber(string.match(members[j], '(%S+)$'))
    if not seen or seen < now - 5 * memberTtl then
      gone[#gone + 1] = members[j - 1]
    end
  end
  if #gone > 0 then
    redis.call('HDEL', KEYS[5], unpack(gone))
  end
end
return {codes, fences, epoch, members, now}
