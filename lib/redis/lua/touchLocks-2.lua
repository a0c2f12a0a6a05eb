--[[
  Reaper: touches the locks of a consumer past its deadline, one SSCAN page per call. Reading a
  key past its TTL makes Redis delete it at once and publish `expired`, instead of waiting for its
  background expiry cycle to sample it.
  KEYS[1]  the service's consumer deadlines (sorted set)
  KEYS[2]  the consumer's set of lock keys
  ARGV[1]  the consumer
  ARGV[2]  SSCAN cursor ('0' to start)
  ARGV[3]  SSCAN COUNT
  ARGV[4]  the smallest PTTL of a live lock of this consumer seen by earlier pages (-1: none)
  Returns  {cursor, gone, least}: the next cursor ('0': done), the locks found gone (expired now
           or earlier), and the smallest PTTL of a live lock so far (-1: none).
  Locks found gone, or held by another consumer, leave the set. On the last page the consumer's
  deadline moves to now + the smallest PTTL (its next lock due), or is removed when it holds
  none; unless the consumer extended its locks meanwhile (its deadline is in the future again).
]]
--!include now
local consumer = ARGV[1]
local page = redis.call('SSCAN', KEYS[2], ARGV[2], 'COUNT', tonumber(ARGV[3]))
local least = tonumber(ARGV[4])
local gone = 0
for _, lock in ipairs(page[2]) do
  local ttl = redis.call('PTTL', lock)
  if ttl == -2 then
    gone = gone + 1
    redis.call('SREM', KEYS[2], lock)
  elseif ttl == -1 or redis.call('GET', lock) ~= consumer then
    redis.call('SREM', KEYS[2], lock)
  elseif least < 0 or ttl < least then
    least = ttl
  end
end
if page[1] == '0' then
  local now = now_ms()
  local current = tonumber(redis.call('ZSCORE', KEYS[1], consumer))
  if current and current <= now then
    if redis.call('SCARD', KEYS[2]) == 0 then
      redis.call('ZREM', KEYS[1], consumer)
    else
      redis.call('ZADD', KEYS[1], now + math.max(least, 1), consumer)
    end
  end
end
return {page[1], gone, least}
