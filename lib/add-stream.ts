import { Observable, defer } from 'rxjs';
import { encodeLbsMessage } from './codecs/lbs-message';
import { InvalidInputError, asRedisError } from './errors';
import { RedisConnection, isCluster } from './redis/connections';
import { resolveLayout } from './layout';
import { MUTEX_KEY_SEP } from './keys';
import { addEntry } from './redis/producer';
import type { ProducerOptions, StreamInput } from './types';

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
 *
 * On a Redis Cluster (or with `keyLayout: 'tagged'`) the entry goes to the partition of its data
 * stream (FNV-1a of the name, modulo the service's partition count), so one data stream always
 * lands in one partition; pass the consumers' `partitions` if they set one.
 *
 * @throws InvalidInputError (as the Observable's error) for an empty name, a name holding the
 *   lock-key separator, or an `info` that is not a plain object; `PartitionCountError` when the
 *   service runs with another partition count; `InvalidOptionsError` for a layout the connection
 *   cannot use
 */
export function addStream(redis: RedisConnection, service: string, input: StreamInput, options: ProducerOptions = {}): Observable<string> {
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
    const layout = resolveLayout(service, isCluster(redis), options);
    return addEntry(redis, service, layout, dataStreamName, json, options).catch((err: unknown) => {
      throw asRedisError(`Adding stream "${dataStreamName}"`)(err);
    });
  });
}
