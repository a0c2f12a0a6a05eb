-- pending_owner(lbs, group, id): the consumer an LBS entry is pending for, or false.
local function pending_owner(lbs, group, id)
  local row = redis.call('XPENDING', lbs, group, id, id, 1)[1]
  return row and row[2] or false
end

-- entry_id(lock, sep): the LBS entry id at the end of a lock key (<name><sep><id>), or false.
local function entry_id(lock, sep)
  local id = string.match(lock, '(%d+%-%d+)$')
  if id and string.sub(lock, -#id - #sep, -#id - 1) == sep then
    return id
  end
  return false
end
