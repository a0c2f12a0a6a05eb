--!include now
-- lower_deadline(deadlines, consumer, ttl, replace): the consumer's deadline becomes now + ttl
-- (its earliest lock's) when `replace`, or when it is absent, past, or later than now + ttl.
local function lower_deadline(deadlines, consumer, ttl, replace)
  local now = now_ms()
  local current = tonumber(redis.call('ZSCORE', deadlines, consumer))
  if replace or not current or current < now or current > now + ttl then
    redis.call('ZADD', deadlines, now + ttl, consumer)
  end
end
