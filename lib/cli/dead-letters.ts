import * as E from 'fp-ts/Either';
import type Redis from 'ioredis';
import { decodeLbsEntry } from '../codecs/lbs-message';
import { assertService, parseDeadLetter } from './snapshot';
import type { DeadLetterView } from './snapshot';

/** No dead letter with this id in `<service>-dead`. */
export class DeadLetterNotFoundError extends Error {
  override readonly name = 'DeadLetterNotFoundError';
  constructor(
    readonly service: string,
    readonly id: string,
  ) {
    super(`No dead letter ${id} in ${service}-dead (list them with: dead-letters ${service} list).`);
  }
}

/** The dead letter would be refused again as it is: it is not requeued. */
export class StillInvalidError extends Error {
  override readonly name = 'StillInvalidError';
  constructor(
    readonly id: string,
    readonly reason: string,
  ) {
    super(`Dead letter ${id} is still invalid (${reason}); it stays in the dead-letter stream. Add a corrected entry with addStream instead.`);
  }
}

/** Every dead letter of the service, oldest first (at most `count`). */
export const listDeadLetters = async (redis: Redis, service: string, count = 1000): Promise<DeadLetterView[]> => {
  const keys = await assertService(redis, service);
  return ((await redis.xrange(keys.dead, '-', '+', 'COUNT', count)) as [string, string[]][]).map(parseDeadLetter);
};

/**
 * Puts a dead letter back into the LBS: its original fields are added as a new LBS entry and the
 * dead letter is deleted, in one MULTI. Only an entry that decodes now is requeued (a refusal
 * for its size or for a duplicate name is worth retrying once the cause is gone; a malformed entry
 * is not: `StillInvalidError`). Returns the new LBS entry's id.
 */
export const requeueDeadLetter = async (redis: Redis, service: string, id: string): Promise<string> => {
  const keys = await assertService(redis, service);
  const found = ((await redis.xrange(keys.dead, id, id)) as [string, string[]][])[0];
  if (found === undefined) throw new DeadLetterNotFoundError(service, id);
  const fields = found[1].slice(6); // after source-id, reason, consumer: the refused entry as it was
  const decoded = decodeLbsEntry({ id: '0-0', fields }, Infinity);
  if (E.isLeft(decoded)) throw new StillInvalidError(id, decoded.left.reason);
  const results = await redis.multi().xadd(keys.lbs, '*', ...fields).xdel(keys.dead, id).exec();
  const failed = results?.find(([err]) => err !== null);
  if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('The requeue transaction was aborted.');
  return results[0]![1] as string;
};
