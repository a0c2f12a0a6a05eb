--[[
  Hands a lock back: makes it expire in ARGV[2] + HAND_BACK_MS if this consumer holds it, and takes
  it out of this consumer's set of lock keys in any case (a lock gone or held by another consumer
  is not ours either). Once Redis deletes it (the client reads it then), every consumer hears an
  ordinary `expired` keyspace event, exactly as if the owner had died, so Go and TypeScript
  consumers alike claim it. The delay is set here at once rather than waited out by the client
  first: a lock the heartbeat no longer extends would otherwise lapse during the wait (a stream
  taken just before `shutdown()`), unannounced to this consumer, which then claimed it back.
  `PEXPIRE key 1` sometimes deleted the key at once instead, with a `del` event and no `expired`
  (about once in a few thousand: Redis compares the new deadline with a clock read a little later
  in the same command, and the millisecond can pass in between), and then nobody claimed the
  stream. 2 ms leaves a millisecond of margin; should Redis still delete the key at once (time
  inside a script stands still, so the key exists here unless PEXPIRE deleted it), the lock is set
  again with the same deadline, and `expired` goes out 2 ms later all the same.
  KEYS[1]  lock key
  KEYS[2]  this consumer's set of lock keys
  ARGV[1]  the owner: this consumer's name
  ARGV[2]  ms to wait before the HAND_BACK_MS (until the entry is claimable: XCLAIM's min-idle); 0 if absent
  Returns  OK set to expire; HELD not ours (or already gone)
]]
--!include codes
local HAND_BACK_MS = 2
local ms = HAND_BACK_MS + math.max(0, tonumber(ARGV[2]) or 0)
redis.call('SREM', KEYS[2], KEYS[1])
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return HELD
end
redis.call('PEXPIRE', KEYS[1], ms)
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ms)
end
return OK
