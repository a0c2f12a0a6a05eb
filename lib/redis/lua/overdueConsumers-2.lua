--[[
  Reaper: lists consumers past their deadline (they have not extended their locks for a TTL),
  at most once per interval for the whole service.
  KEYS[1]  the service's consumer deadlines (sorted set)
  KEYS[2]  the reaper's guard key (only the consumer that sets it runs this interval)
  ARGV[1]  the caller: this consumer's name
  ARGV[2]  interval, ms (the guard's ttl)
  ARGV[3]  most consumers returned
  Returns  the consumers whose deadline has passed (server clock); {} if another consumer
           holds the guard
]]
--!include now
if not redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then
  return {}
end
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[3]))
