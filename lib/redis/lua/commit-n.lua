--[[
  consumeStream commits: for each stream, writes its committed position, only while this consumer
  holds the stream's lock (checked in the same script, so a stale owner never writes).
  KEYS[1..n]  lock key of each stream
  KEYS[n+1..2n] the committed position beside each lock key, in the same order (entryKeysOf in
              lib/keys.ts; declared, as every key a script touches, for Redis Cluster)
  ARGV[1]     the owner: this consumer's name
  ARGV[2..]   the position to commit (a data-stream entry id), for each lock key in order
  Returns     {codes, details}, one per stream:
                OK           committed
                HELD         the lock is held by another consumer (details[i]): nothing written
                NOT_PENDING  the lock is gone (expired, released, finished): nothing written
]]
--!include codes
local owner = ARGV[1]
local n = #KEYS / 2
local codes, details = {}, {}
for i = 1, n do
  local holder = redis.call('GET', KEYS[i])
  details[i] = false
  if holder == owner then
    redis.call('SET', KEYS[n + i], ARGV[i + 1])
    codes[i] = OK
  elseif holder then
    codes[i] = HELD
    details[i] = holder
  else
    codes[i] = NOT_PENDING
  end
end
return {codes, details}
