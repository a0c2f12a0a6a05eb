import { backoffDelay } from './backoff';

/** Waits between the tries of a call a Cluster refused while it moved the call's slot: 100 ms, doubled, at most 1 s. */
export const SLOT_MOVE_BACKOFF = { initialDelay: 100, maxDelay: 1000 } as const;

/**
 * True for an error a Cluster gives while it moves the slot of the call's keys between primaries
 * key by key: TRYAGAIN (the call's keys are on two nodes), also as the cause of ioredis' "Too many
 * Cluster redirections" once it has retried it. The call succeeds once the move ends, so it may
 * be sent again; any other error may not (as far as this rule knows).
 *
 * @example
 * isSlotMoveError(new Error('Too many Cluster redirections. Last error: ReplyError: TRYAGAIN Multiple keys request during rehashing of slot')) // true
 * isSlotMoveError(new Error('CLUSTERDOWN The cluster is down')) // false
 */
export const isSlotMoveError = (err: unknown): boolean => {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    if (/\bTRYAGAIN\b/.test(e.message) || /^Too many Cluster redirections\b/.test(e.message)) return true;
  }
  return false;
};

/** The delay before try `attempt` (1-based) of a call refused while its slot moved; undefined once `startedAt` is more than `budgetMs` ago. */
export const slotMoveDelay = (attempt: number, startedAt: number, now: number, budgetMs: number): number | undefined =>
  now - startedAt > budgetMs ? undefined : backoffDelay(attempt, SLOT_MOVE_BACKOFF);
