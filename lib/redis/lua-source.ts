/**
 * The Lua sources of the scripts (`lua/<name>-<numKeys>.lua`), with their `--!include` lines
 * filled in from `lua/include/` and from `keys.ts` (the keys beside a lock), so that TypeScript
 * and Lua name every key the same way.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMITTED_SEP, FENCE_SEP, MUTEX_KEY_SEP } from '../keys';

/**
 * A script's source with its `--!include <name>` lines replaced by `lua/include/<name>.lua`
 * (each include once, includes of includes first): the snippets several scripts share.
 */
export const withIncludes = (source: string, read: (name: string) => string, seen = new Set<string>()): string =>
  source.replace(/^--!include (\w+)\s*$/gm, (_, name: string) => {
    if (seen.has(name)) return '';
    seen.add(name);
    return withIncludes(read(name), read, seen).trimEnd();
  });

const LUA = join(__dirname, 'lua');
/** The include `entrykeys`: the suffixes of the keys beside a lock key, from `keys.ts` (one definition for TypeScript and Lua). */
const ENTRY_KEYS_LUA = `-- The keys beside a lock key, as lib/keys.ts entryKeysOf derives them: its last separator replaced.
local function beside_lock(lock, sep)
  local at, from = nil, 1
  while true do
    local s = string.find(lock, '${MUTEX_KEY_SEP}', from, true)
    if not s then break end
    at, from = s, s + 1
  end
  if not at then return lock .. sep end
  return string.sub(lock, 1, at - 1) .. sep .. string.sub(lock, at + ${MUTEX_KEY_SEP.length})
end
-- committed_key(lock): the committed position of a stream; fence_key(lock): its fencing token.
local function committed_key(lock) return beside_lock(lock, '${COMMITTED_SEP}') end
local function fence_key(lock) return beside_lock(lock, '${FENCE_SEP}') end
`;
export const include = (name: string): string => (name === 'entrykeys' ? ENTRY_KEYS_LUA : readFileSync(join(LUA, 'include', `${name}.lua`), 'utf8'));
/** The source of `lua/<file>`, its includes filled in. */
export const source = (file: string): string => withIncludes(readFileSync(join(LUA, file), 'utf8'), include);

