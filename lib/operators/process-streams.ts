import { Observable, OperatorFunction, Subscriber, Subscription } from 'rxjs';
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
    new Observable<StreamOutcome>((out) => {
      const run = new Run(client, handler, concurrency, out);
      run.source = source.subscribe(run);
      return () => run.close();
    });
}

/**
 * One subscription of `processStreams`: the streams being worked on (at most `concurrency`), those
 * waiting for a slot, and the outcomes. Plain objects and methods rather than an operator chain
 * per stream: a consumer may hold a hundred thousand streams, each idle for hours.
 */
class Run {
  source: Subscription | undefined;
  /** The latest work of each stream name, running or waiting: where its stop goes. */
  private readonly works = new Map<string, Work>();
  /** Works waiting for a slot, first in first out (`head` is the next one). */
  private queue: Work[] = [];
  private head = 0;
  private active = 0;
  private draining = false;
  private sourceDone = false;

  constructor(
    readonly client: StreamFinisher,
    readonly handler: (stream: OwnedStreamInfo) => Observable<unknown>,
    private readonly concurrency: number,
    private readonly out: Subscriber<StreamOutcome>,
  ) {}

  next(n: OwnershipNotification): void {
    if (n.type === 'StreamDisowned' || n.type === 'StreamReleased') {
      this.works.get(n.payload.dataStreamName)?.stop(n.type === 'StreamReleased' ? 'Rebalanced' : 'Abandoned');
      return;
    }
    if (n.type !== 'StreamAdded' && n.type !== 'StreamClaimed') return;
    const work = new Work(this, { payload: n.payload, additionalInfo: n.additionalInfo ?? {} });
    this.works.set(n.payload.dataStreamName, work);
    this.queue.push(work);
    this.drain();
  }

  error(err: unknown): void {
    this.close();
    this.out.error(err);
  }

  complete(): void {
    this.sourceDone = true;
    this.drain();
  }

  /** A work ended with `outcome`: report it, give its slot to the next one. */
  ended(work: Work, outcome: StreamOutcome): void {
    const name = work.stream.payload.dataStreamName;
    if (this.works.get(name) === work) this.works.delete(name);
    this.active--;
    this.out.next(outcome);
    this.drain();
  }

  /** Starts waiting works while there are slots (a loop, not recursion: works may end at once); completes once the source did and nothing is left. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    while (this.active < this.concurrency && this.head < this.queue.length) {
      const work = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.active++;
      work.start();
    }
    this.draining = false;
    if (this.sourceDone && this.active === 0 && this.head >= this.queue.length) this.out.complete();
  }

  close(): void {
    this.source?.unsubscribe();
    for (const work of this.works.values()) work.close();
    this.works.clear();
    this.queue = [];
    this.head = 0;
  }
}

/** The work on one stream: waiting, running its handler, finishing (doneStream or release), ended. Its own observer of each step. */
class Work {
  private phase: 'waiting' | 'handling' | 'finishing' | 'ended' = 'waiting';
  private stopped: Stopped | undefined;
  private current: Subscription | undefined;

  constructor(
    private readonly run: Run,
    readonly stream: OwnedStreamInfo,
  ) {}

  private get name(): string {
    return this.stream.payload.dataStreamName;
  }

  start(): void {
    if (this.stopped !== undefined) return this.end({ type: this.stopped, payload: this.stream.payload });
    this.phase = 'handling';
    let handled: Observable<unknown>;
    try {
      handled = this.run.handler(this.stream);
    } catch (err) {
      return this.error(err);
    }
    const sub = handled.subscribe(this);
    if (this.phase === 'handling') this.current = sub;
  }

  /** `StreamDisowned` or `StreamReleased`: the handler is unsubscribed at once (a waiting work ends when its turn comes); a finishing one goes on. */
  stop(why: Stopped): void {
    if (this.phase === 'waiting') this.stopped ??= why;
    else if (this.phase === 'handling') {
      this.phase = 'finishing';
      this.current?.unsubscribe();
      this.end({ type: why, payload: this.stream.payload });
    }
  }

  next(): void {}

  /** The handler failed. */
  error(cause: unknown): void {
    if (this.phase !== 'handling') return;
    this.phase = 'finishing';
    const { payload } = this.stream;
    if (cause instanceof NotOwnerError) return this.end({ type: 'Abandoned', payload });
    if (cause instanceof StreamHandedBackError) {
      return cause.reason === 'rebalanced' ? this.handBack({ type: 'Rebalanced', payload }) : this.end({ type: 'Abandoned', payload });
    }
    this.handBack({ type: 'Failed', payload, error: new StreamHandlerError(this.name, cause) });
  }

  /** The handler completed: doneStream, then `Processed`. */
  complete(): void {
    if (this.phase !== 'handling') return;
    this.phase = 'finishing';
    const { payload } = this.stream;
    this.follow(this.run.client.doneStream(this.name), {
      error: (error: Error) =>
        error instanceof NotOwnerError
          ? this.end({ type: 'Abandoned', payload })
          : // Not acknowledged (Redis failed): hand it back, so that the work is done again elsewhere.
            this.handBack({ type: 'Failed', payload, error }),
      complete: () => this.end({ type: 'Processed', payload }),
    });
  }

  close(): void {
    this.phase = 'ended';
    this.current?.unsubscribe();
  }

  /** Releases the stream (its lock lapses even if Redis refuses), then reports `outcome`. */
  private handBack(outcome: StreamOutcome): void {
    const end = () => this.end(outcome);
    this.follow(this.run.client.release(this.name), { error: end, complete: end });
  }

  private follow(step: Observable<unknown>, observer: { error: (err: Error) => void; complete: () => void }): void {
    this.current = undefined;
    const sub = step.subscribe(observer);
    if (this.phase === 'finishing') this.current = sub;
  }

  private end(outcome: StreamOutcome): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.current = undefined;
    this.run.ended(this, outcome);
  }
}
