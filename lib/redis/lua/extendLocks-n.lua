--[[
  Heartbeat: extends every lock of one consumer in one call.
  KEYS[1..n]  lock keys (<DataStreamName><MUTEX_KEY_SEP><LBS id>)
  ARGV[1]     the owner: this consumer's name
  ARGV[2]     ttl, ms
  Returns     one code per key, in order:
                1  extended (the lock was ours)
                2  re-taken (the lock had vanished: set again with NX, as the Go library does)
                0  held by another consumer (this consumer has been disowned)
]]
local owner, ttl = ARGV[1], ARGV[2]
local codes = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == owner then
    redis.call('PEXPIRE', key, ttl)
    codes[i] = 1
  elseif not holder then
    redis.call('SET', key, owner, 'PX', ttl, 'NX')
    codes[i] = 2
  else
    codes[i] = 0
  end
end
return codes
