/**
 * Stable codes of every error this library raises.
 * @example
 * const code: ErrorCode = 'ALREADY_CLAIMED';
 * const lostRace = (err: unknown) => (err as RedisStreamClientError).code === code;
 */
export type ErrorCode =
  | 'ALREADY_CLAIMED'
  | 'STREAM_NOT_FOUND'
  | 'NOT_OWNER'
  | 'INVALID_OPTIONS'
  | 'INVALID_INPUT'
  | 'CONSUMER_ID_MISSING'
  | 'KEYSPACE_CONFIG_CONFLICT'
  | 'INVALID_LBS_MESSAGE'
  | 'STREAM_TERMINATED'
  | 'CLIENT_CLOSED'
  | 'HANDLER_FAILED'
  | 'PARTITION_COUNT_MISMATCH'
  | 'PARTITION_TAGS_CHANGED'
  | 'AT_CAPACITY'
  | 'DATA_STREAM_WRONG_TYPE'
  | 'HANDED_BACK'
  | 'REDIS';

/**
 * Base of every error raised by redis-stream-client-rx: test `err.code`, or `instanceof` a subclass.
 * The Redis error that caused it, where there is one, is `err.cause`.
 * @example
 * client.doneStream('s1').pipe(
 *   catchError((err: unknown) => (err instanceof RedisStreamClientError ? of(err.code) : throwError(() => err))),
 * );
 */
export abstract class RedisStreamClientError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * `claim()` lost: another consumer holds the stream (or took it first). Losing a race is normal.
 * @example
 * client.claim(expired.payload).pipe(
 *   catchError((err: unknown) => (err instanceof AlreadyClaimedError ? EMPTY : throwError(() => err))), // lost the race
 * );
 */
export class AlreadyClaimedError extends RedisStreamClientError {
  readonly code = 'ALREADY_CLAIMED';
  constructor(readonly streamName: string, readonly idInLbs: string) {
    super(`Stream "${streamName}" (LBS entry ${idInLbs}) is already claimed by another consumer.`);
  }
}

/**
 * `doneStream()` / `release()` for a stream this consumer does not own.
 * @example
 * client.release('never-handed-out').subscribe({ error: (err) => console.log(err instanceof StreamNotFoundError) }); // true
 */
export class StreamNotFoundError extends RedisStreamClientError {
  readonly code = 'STREAM_NOT_FOUND';
  constructor(readonly streamName: string) {
    super(`Stream "${streamName}" is not owned by this consumer: only streams it was handed (StreamAdded) or claimed can be marked done.`);
  }
}

/**
 * This consumer no longer holds the stream's lock: `doneStream()` acknowledged nothing, or a
 * `consumeStream` commit was refused (nothing written). Stop working on the stream.
 * @example
 * client.doneStream('s1').subscribe({
 *   error: (err) => err instanceof NotOwnerError && console.log(`s1 is ${err.owner}'s now`),
 * });
 */
export class NotOwnerError extends RedisStreamClientError {
  readonly code = 'NOT_OWNER';
  constructor(readonly streamName: string, readonly owner: string) {
    super(`Stream "${streamName}" is now owned by "${owner}"; it was not acknowledged. Stop working on it.`);
  }
}

/**
 * An option is out of range or of the wrong type; the message names the option.
 * @example
 * new RedisStreamClient(redis, 'my-service', { consumerId: 'w1', hbInterval: 5 });
 * // throws InvalidOptionsError: options.hbInterval must be at least 10 ms (got 5).
 */
export class InvalidOptionsError extends RedisStreamClientError {
  readonly code = 'INVALID_OPTIONS';
}

/**
 * `addStream()` input that could not be delivered safely (empty name, separator in name, `info` not an object).
 * @example
 * addStream(redis, 'my-service', { dataStreamName: '' }).subscribe({ error: (err) => console.log(err.code) }); // 'INVALID_INPUT'
 */
export class InvalidInputError extends RedisStreamClientError {
  readonly code = 'INVALID_INPUT';
}

/**
 * No consumer id: neither the `consumerId` option nor the env `POD_NAME` / `POD_IP` is set.
 * @example
 * new RedisStreamClient(redis, 'my-service'); // throws ConsumerIdMissingError unless POD_NAME or POD_IP is set
 */
export class ConsumerIdMissingError extends RedisStreamClientError {
  readonly code = 'CONSUMER_ID_MISSING';
  constructor() {
    super('No consumer id: pass options.consumerId, or set the environment variable POD_NAME (or POD_IP). It must be unique and stable per consumer.');
  }
}

/**
 * `notify-keyspace-events` could not be set to include `K` and `x` (CONFIG refused): expiries will not be heard.
 * @example
 * // Never thrown: logged as a warning, and the client goes on (expiries are then found by recovery).
 * const logger = { ...console, warn: (obj: { err?: unknown }, msg?: string) => obj.err instanceof KeyspaceConfigError && alertOps(msg) };
 */
export class KeyspaceConfigError extends RedisStreamClientError {
  readonly code = 'KEYSPACE_CONFIG_CONFLICT';
}

/**
 * An LBS entry that does not decode (logged and dead-lettered; never thrown to the notification stream).
 * @example
 * new InvalidLbsMessageError('1-0', 'not JSON').message; // 'LBS entry 1-0 is invalid (not JSON); it was moved to the dead-letter stream.'
 */
export class InvalidLbsMessageError extends RedisStreamClientError {
  readonly code = 'INVALID_LBS_MESSAGE';
  constructor(readonly idInLbs: string, readonly reason: string) {
    super(`LBS entry ${idInLbs} is invalid (${reason}); it was moved to the dead-letter stream.`);
  }
}

/**
 * The LBS reader gave up after `retry.maxRetries` failed reads in a row (the Go library's `StreamTerminated`).
 * @example
 * client.init().subscribe({ error: (err) => err instanceof StreamTerminatedError && process.exit(1) }); // the LBS reader gave up
 */
export class StreamTerminatedError extends RedisStreamClientError {
  readonly code = 'STREAM_TERMINATED';
}

/**
 * The client was stopped with `done()` or `shutdown()`; create a new client to consume again.
 * @example
 * await lastValueFrom(client.done(), { defaultValue: undefined });
 * client.init().subscribe({ error: (err) => console.log(err.code) }); // 'CLIENT_CLOSED'
 */
export class ClientClosedError extends RedisStreamClientError {
  readonly code = 'CLIENT_CLOSED';
  /** @param stoppedBy the call that stopped the client: `'done()'` or `'shutdown()'` */
  constructor(readonly stoppedBy?: 'done()' | 'shutdown()') {
    super(`This client was stopped with ${stoppedBy ?? 'done() or shutdown()'}; a stopped client does not start again: create a new RedisStreamClient.`);
  }
}

/**
 * A `processStreams` handler failed on a stream; the stream was handed back to the fleet. `cause` is the handler's error.
 * @example
 * client.init().pipe(claimExpired(client), processStreams(client, work)).subscribe((outcome) => {
 *   if (outcome.type === 'Failed' && outcome.error instanceof StreamHandlerError) console.log(outcome.error.streamName, outcome.error.cause);
 * });
 */
export class StreamHandlerError extends RedisStreamClientError {
  readonly code = 'HANDLER_FAILED';
  constructor(readonly streamName: string, cause: unknown) {
    super(`The handler of stream "${streamName}" failed (${cause instanceof Error ? cause.message : String(cause)}); the stream was released for another consumer.`, { cause });
  }
}

/**
 * The service's partition count stored in Redis (`{<service>:0}-partitions`, set by its first
 * consumer or producer) differs from the one this client or producer was given. Changing it would
 * move data streams to other partitions while their entries wait in the old ones: see README,
 * "Changing the partition count".
 * @example
 * new RedisStreamClient(cluster, 'my-service', { consumerId: 'w1', partitions: 8 }).init()
 *   .subscribe({ error: (err) => err instanceof PartitionCountError && console.log(`the service has ${err.stored}`) });
 */
export class PartitionCountError extends RedisStreamClientError {
  readonly code = 'PARTITION_COUNT_MISMATCH';
  constructor(readonly service: string, readonly stored: number, readonly given: number) {
    super(`Service "${service}" runs with ${stored} partitions (stored in Redis), not ${given}: pass options.partitions = ${stored}, or move the service to a new name to change it (README, "Changing the partition count").`);
  }
}

/**
 * The service has LBS entries under partition tags of an earlier version (`{<service>:<p>}`,
 * before a partition's tag was chosen to land in its share of the slots), which this version
 * would never read. See README, "Partition tags".
 * @example
 * addStream(cluster, 'orders', input).subscribe({ error: (err) => err instanceof PartitionTagsChangedError && console.log('drain first:', err.oldKeys) });
 */
export class PartitionTagsChangedError extends RedisStreamClientError {
  readonly code = 'PARTITION_TAGS_CHANGED';
  constructor(readonly service: string, readonly oldKeys: readonly string[], readonly newKeys: readonly string[]) {
    super(
      `Service "${service}" has LBS entries under an earlier version's partition tags (${oldKeys.join(', ')}); this version reads ${newKeys.join(', ')} instead. ` +
        'Drain and finish those entries with the earlier version (or add them again under the new keys), delete the old keys, then start this version (README, "Partition tags").',
    );
  }
}

/**
 * `claim()` while this consumer owns `maxStreams` streams: another consumer with room takes the stream. `claimExpired` skips it quietly.
 * @example
 * client.claim(expired.payload).subscribe({ error: (err) => err instanceof AtCapacityError && console.log('full at', err.maxStreams) });
 */
export class AtCapacityError extends RedisStreamClientError {
  readonly code = 'AT_CAPACITY';
  constructor(readonly streamName: string, readonly maxStreams: number) {
    super(`Not claiming stream "${streamName}": this consumer owns maxStreams (${maxStreams}) streams already; a consumer with room takes it. Raise options.maxStreams to own more.`);
  }
}

/**
 * `consumeStream`: the data stream's key holds another type than a stream; only that stream's work ends.
 * @example
 * consumeStream(client, stream, handle).subscribe({ error: (err) => err instanceof DataStreamTypeError && console.log(err.actualType) }); // e.g. 'string'
 */
export class DataStreamTypeError extends RedisStreamClientError {
  readonly code = 'DATA_STREAM_WRONG_TYPE';
  constructor(readonly streamName: string, readonly actualType: string) {
    super(`The data stream "${streamName}" is a ${actualType}, not a stream; its work ends here. Delete or rename the key, then add the stream again.`);
  }
}

/**
 * `consumeStream` stopped on request after flushing its commits: the stream was released, finished,
 * or handed back for rebalancing (`reason`). `processStreams` reports it as `Rebalanced` or `Abandoned`, never `Failed`.
 * @example
 * consumeStream(client, stream, handle).subscribe({ error: (err) => err instanceof StreamHandedBackError && console.log('stopped:', err.reason) });
 */
export class StreamHandedBackError extends RedisStreamClientError {
  readonly code = 'HANDED_BACK';
  constructor(readonly streamName: string, readonly reason: 'rebalanced' | 'released' | 'done') {
    super(`Stopped reading stream "${streamName}" (${reason}); its commits were flushed.`);
  }
}

/**
 * A Redis command failed; `cause` is the ioredis error.
 * @example
 * client.doneStream('s1').subscribe({ error: (err) => err instanceof RedisCommandError && console.log('Redis said', err.cause) });
 */
export class RedisCommandError extends RedisStreamClientError {
  readonly code = 'REDIS';
}

/**
 * `addStream` with `replicas`: fewer replicas than asked confirmed the entry in time. It may be
 * lost if its primary fails now; adding it again is safe (a second entry of a data stream is
 * dead-lettered while the first is unfinished).
 * @example
 * addStream(redis, 'my-service', { dataStreamName: 's1' }, { replicas: 1 }).pipe(
 *   retry({ count: 3, delay: (err) => (err instanceof NotReplicatedError ? timer(100) : throwError(() => err)) }), // adding again is safe
 * );
 */
export class NotReplicatedError extends RedisCommandError {
  constructor(readonly idInLbs: string, readonly replicas: number, readonly wanted: number) {
    super(`LBS entry ${idInLbs} reached ${replicas} of ${wanted} replicas in time; it may be lost if its primary fails: add the stream again.`);
  }
}

/**
 * The consumer group is missing (NOGROUP: Redis restarted without persistence, or the LBS was deleted); the reader re-creates it and retries.
 * @example
 * // Raised inside the LBS reader only, which re-creates the group and reads again; it is a RedisCommandError.
 * new GroupMissingError('NOGROUP') instanceof RedisCommandError; // true
 */
export class GroupMissingError extends RedisCommandError {}

/**
 * Wraps anything thrown by Redis into a `RedisCommandError`, keeping our own typed errors as they are.
 * @example
 * from(redis.xlen(lbsKey('my-service'))).pipe(catchError((err: unknown) => throwError(() => asRedisError('Reading the LBS length')(err))));
 */
export const asRedisError = (what: string) => (cause: unknown): RedisStreamClientError =>
  cause instanceof RedisStreamClientError
    ? cause
    : new RedisCommandError(`${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
