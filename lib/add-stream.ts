import { Observable, defer } from 'rxjs';
import { encodeLbsMessage } from './codecs/lbs-message';
import { InvalidInputError, asRedisError } from './errors';
import type { RedisConnection } from './redis/connections';
import { MUTEX_KEY_SEP } from './keys';
import { addEntry } from './redis/producer';
import type { StreamInput } from './types';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.prototype.toString.call(v) === '[object Object]';

/**
 * For producers: puts a data stream in the service's load-balancer stream, to be handed to one
 * consumer. Emits the LBS entry id, then completes. Cold: nothing is sent until subscribed.
 *
 * ## Example
 * ```ts
 * addStream(redis, 'my-service', { dataStreamName: 'session-42', info: { user: 'u1' } })
 *   .subscribe((id) => console.log('queued as', id));
 * ```
 * @throws InvalidInputError (as the Observable's error) for an empty name, a name holding the
 *   lock-key separator, or an `info` that is not a plain object
 */
export function addStream(redis: RedisConnection, service: string, input: StreamInput): Observable<string> {
  return defer(async () => {
    const { dataStreamName, info = {} } = input ?? ({} as StreamInput);
    if (typeof service !== 'string' || service.length === 0) throw new InvalidInputError('addStream: the service name must be a non-empty string.');
    if (typeof dataStreamName !== 'string' || dataStreamName.length === 0) {
      throw new InvalidInputError('addStream: dataStreamName must be a non-empty string.');
    }
    if (dataStreamName.includes(MUTEX_KEY_SEP)) {
      throw new InvalidInputError(`addStream: dataStreamName must not contain ${MUTEX_KEY_SEP} (it separates the name from the id in lock keys).`);
    }
    if (!isPlainObject(info)) throw new InvalidInputError('addStream: info must be a plain JSON object.');
    let json: string;
    try {
      json = encodeLbsMessage(dataStreamName, info);
    } catch (cause) {
      throw new InvalidInputError(`addStream: info must be JSON-serialisable (${cause instanceof Error ? cause.message : String(cause)}).`, { cause });
    }
    return addEntry(redis, service, json).catch((err: unknown) => {
      throw asRedisError(`Adding stream "${dataStreamName}"`)(err);
    });
  });
}
