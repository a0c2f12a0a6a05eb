import {
  EMPTY,
  Observable,
  OperatorFunction,
  ReplaySubject,
  catchError,
  concat,
  connect,
  defer,
  filter,
  ignoreElements,
  map,
  merge,
  mergeMap,
  of,
  takeUntil,
  tap,
} from 'rxjs';
import { NotOwnerError, StreamHandedBackError, StreamHandlerError } from '../errors';
import type { AdditionalInfo, LbsInfo, OwnershipNotification } from '../types';

/**
 * What `processStreams` needs of a client (a `RedisStreamClient` fits; tests pass stubs).
 * @example
 * const finisher: StreamFinisher = client; // doneStream and release
 * client.init().pipe(claimExpired(client), processStreams(finisher, work)).subscribe();
 */
export interface StreamFinisher {
  /** As `RedisStreamClient.doneStream`. */
  doneStream(name: string): Observable<void>;
  /** As `RedisStreamClient.release`. */
  release(name: string): Observable<void>;
}

/**
 * A stream handed to the handler: the stream this consumer owns and its `Info`.
 * @example
 * const work = (stream: OwnedStreamInfo) => from(redis.xrange(stream.payload.dataStreamName, '-', '+'));
 * client.init().pipe(claimExpired(client), processStreams(client, work)).subscribe();
 */
export interface OwnedStreamInfo {
  readonly payload: LbsInfo;
  readonly additionalInfo: AdditionalInfo;
}

/**
 * How the work on one stream ended.
 * @example
 * client.init().pipe(claimExpired(client), processStreams(client, work))
 *   .subscribe((outcome: StreamOutcome) => outcome.type === 'Failed' && console.error(outcome.payload.dataStreamName, outcome.error));
 */
export type StreamOutcome =
  | { readonly type: 'Processed'; readonly payload: LbsInfo }
  | { readonly type: 'Abandoned'; readonly payload: LbsInfo }
  /** Handed back to the fleet for balance: a `consumeStream` right after a commit (then released), or any handler at `StreamReleased` (reason 'rebalance'); nothing acknowledged, another consumer goes on. */
  | { readonly type: 'Rebalanced'; readonly payload: LbsInfo }
  | { readonly type: 'Failed'; readonly payload: LbsInfo; readonly error: StreamHandlerError | Error };

/** Why the work on a stream was stopped from outside. */
type Stopped = 'Abandoned' | 'Rebalanced';

/**
 * Options of `processStreams`.
 *
 * ## Example
 * ```ts
 * client.init().pipe(claimExpired(client), processStreams(client, work, { concurrency: 10 }));
 * ```
 */
export interface ProcessStreamsConfig {
  /** Streams processed at once; the others wait (their locks stay alive). Default: unbounded. */
  readonly concurrency?: number;
}

/**
 * Runs `handler` for every stream this consumer comes to own (`StreamAdded`, `StreamClaimed`):
 * - the handler completes: `doneStream` (release, XACK, XDEL), then `Processed`;
 * - `StreamDisowned` arrives for that stream: the handler is unsubscribed at once, nothing is
 *   acknowledged, `Abandoned` (also for a stream still waiting for a slot);
 * - `StreamReleased` arrives for that stream (handed back for balance): the handler is
 *   unsubscribed at once, nothing is acknowledged, `Rebalanced`;
 * - the handler errors: the stream is handed back (`release`) for another consumer, `Failed`
 *   with a `StreamHandlerError` naming the stream. The other streams go on;
 * - `doneStream` fails (Redis error): the stream is handed back too (done again elsewhere: at
 *   least once), `Failed` with that error;
 * - the handler errors with `NotOwnerError` (a `consumeStream` commit was refused: another
 *   consumer took the stream): `Abandoned`, nothing released (the stream was already dropped here);
 * - the handler errors with `StreamHandedBackError` (its `consumeStream` stopped after flushing its
 *   commits): `Rebalanced` after `release` when it was handed back for rebalancing; `Abandoned`
 *   when a `release`, `doneStream`, `done` or `shutdown` of the client stopped it.
 *
 * ## Example
 * ```ts
 * client.init().pipe(
 *   claimExpired(client),
 *   processStreams(client, (s) => readAll(s.payload.dataStreamName), { concurrency: 100 }),
 * ).subscribe((outcome) => console.log(outcome.type, outcome.payload.dataStreamName));
 * ```
 */
export function processStreams(
  client: StreamFinisher,
  handler: (stream: OwnedStreamInfo) => Observable<unknown>,
  config: ProcessStreamsConfig = {},
): OperatorFunction<OwnershipNotification, StreamOutcome> {
  const concurrency = config.concurrency ?? Infinity;
  return (source) =>
    defer(() => {
      const disowned = new Map<string, ReplaySubject<Stopped>>();
      const signalOf = (name: string): ReplaySubject<Stopped> => {
        let signal = disowned.get(name);
        if (signal === undefined) disowned.set(name, (signal = new ReplaySubject<Stopped>(1)));
        return signal;
      };

      /** Releases the stream (its lock lapses even if Redis refuses), then reports `outcome`. */
      const handBack = (name: string, outcome: StreamOutcome): Observable<StreamOutcome> =>
        client.release(name).pipe(
          catchError(() => EMPTY),
          ignoreElements(),
          (released$) => concat(released$, of(outcome)),
        );

      const work = (stream: OwnedStreamInfo): Observable<StreamOutcome> => {
        const name = stream.payload.dataStreamName;
        let stopped: Stopped | undefined;
        const stop$ = signalOf(name).pipe(tap((why) => (stopped = why)));
        const finish$ = defer(() =>
          stopped !== undefined
            ? of<StreamOutcome>({ type: stopped, payload: stream.payload })
            : client.doneStream(name).pipe(
                ignoreElements(),
                (done$) => concat(done$, of<StreamOutcome>({ type: 'Processed', payload: stream.payload })),
                catchError((error: Error) =>
                  error instanceof NotOwnerError
                    ? of<StreamOutcome>({ type: 'Abandoned', payload: stream.payload })
                    : // Not acknowledged (Redis failed): hand it back, so that the work is done again elsewhere.
                      handBack(name, { type: 'Failed', payload: stream.payload, error }),
                ),
              ),
        );
        const handled$ = defer(() => handler(stream)).pipe(
          takeUntil(stop$),
          ignoreElements(),
          catchError((cause: unknown) => {
            if (cause instanceof NotOwnerError) return of<StreamOutcome>({ type: 'Abandoned', payload: stream.payload });
            if (cause instanceof StreamHandedBackError) {
              return cause.reason === 'rebalanced' ? handBack(name, { type: 'Rebalanced', payload: stream.payload }) : of<StreamOutcome>({ type: 'Abandoned', payload: stream.payload });
            }
            return handBack(name, { type: 'Failed', payload: stream.payload, error: new StreamHandlerError(name, cause) });
          }),
        );
        let failed = false;
        return concat(
          handled$.pipe(tap(() => (failed = true))),
          defer(() => (failed ? EMPTY : finish$)),
        ).pipe(tap({ finalize: () => disowned.delete(name) }));
      };

      return source.pipe(
        connect((shared) =>
          merge(
            shared.pipe(
              filter((n) => n.type === 'StreamDisowned' || n.type === 'StreamReleased'),
              tap((n) => signalOf(n.payload.dataStreamName).next(n.type === 'StreamReleased' ? 'Rebalanced' : 'Abandoned')),
              ignoreElements(),
            ),
            shared.pipe(
              filter((n) => n.type === 'StreamAdded' || n.type === 'StreamClaimed'),
              tap((n) => disowned.delete(n.payload.dataStreamName)),
              map((n): OwnedStreamInfo => ({ payload: n.payload, additionalInfo: n.additionalInfo ?? {} })),
              mergeMap(work, concurrency),
            ),
          ),
        ),
      );
    });
}
