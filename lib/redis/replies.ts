import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import type { RawEntry } from '../codecs/lbs-message';
import { GroupMissingError } from '../errors';

/** Stream entries as ioredis returns them (XRANGE, XREADGROUP): `[id, fields]`, fields null for a deleted entry. */
export type XEntries = [string, string[] | null][];

export const toEntries = (raw: XEntries): RawEntry[] =>
  raw.filter((e): e is [string, string[]] => e[1] !== null).map(([id, fields]) => ({ id, fields }));

/** Redis error replies start with their kind: `NOGROUP No such key ...`, `BUSYGROUP Consumer Group name already exists`. */
const replyKind = (err: unknown): string | undefined => (err instanceof Error ? /^[A-Z]+/.exec(err.message)?.[0] : undefined);

/** The one place where Redis error replies become typed: NOGROUP is a `GroupMissingError`; anything else is rethrown. */
export const classifyReplyError = (err: unknown): never => {
  if (replyKind(err) === 'NOGROUP') throw new GroupMissingError((err as Error).message, { cause: err });
  throw err;
};

/**
 * XGROUP CREATE <lbs> <group> 0 MKSTREAM; an existing group (BUSYGROUP) is fine. From id 0, not
 * `$`: entries a producer added before any consumer existed are handed out too, never skipped.
 * (Only the group's creator decides: a group made by a Go consumer starts at `$`.)
 */
export const ensureGroup = async (redis: Redis | Cluster, lbs: string, group: string): Promise<void> => {
  try {
    await redis.xgroup('CREATE', lbs, group, '0', 'MKSTREAM');
  } catch (err) {
    if (replyKind(err) !== 'BUSYGROUP') throw err;
  }
};
