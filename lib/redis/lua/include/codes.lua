-- The result codes of every script (lib/redis/scripts.ts maps them to typed results).
local OK, HELD, NOT_PENDING, RETAKEN, DUPLICATE = 1, 0, -1, 2, -2
