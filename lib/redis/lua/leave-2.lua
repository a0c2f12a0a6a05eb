--[[
  A consumer that stopped (done() or shutdown()) leaves the reaper's books: its deadline and its
  (empty) set of lock keys go, so the last consumer of a service leaves nothing of itself behind.
  A consumer that still holds locks (a finish that failed while stopping) keeps both, so the
  reapers of the others touch those locks once they are due.
  KEYS[1]  the service's consumer deadlines (sorted set)
  KEYS[2]  this consumer's set of lock keys
  ARGV[1]  this consumer
  Returns  OK left; HELD still holds locks (nothing changed)
]]
--!include codes
if redis.call('SCARD', KEYS[2]) > 0 then
  return HELD
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return OK
