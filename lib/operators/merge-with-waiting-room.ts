import { EMPTY, Observable, ObservableInput, OperatorFunction, SchedulerLike, Subscription, asyncScheduler } from 'rxjs';
import { subscribeInner, subscribeOuter } from './merge-many';

/** Puts `value` aside for `ms`; then the step runs again with it. */
export type Hold<T> = (value: T, ms: number) => void;

/** Options of `mergeWithWaitingRoom`. */
export interface WaitingRoomConfig {
  /** Where time comes from (a `TestScheduler` in marble specs). Default: `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Most steps of values back from the waiting room running at once; the others wait their turn as plain values. Default 1000. */
  readonly releasedConcurrency?: number;
  /**
   * Most steps run in one turn (one scheduled action, or one burst of source values); the rest
   * wait, in order, for the next turn (`scheduler`, 0 ms), which the event loop reaches after
   * reading its sockets. Default 1000.
   */
  readonly stepsPerTurn?: number;
}

/**
 * `mergeMany(step)` where a step may put its value aside for a while (`hold(value, ms)`) and
 * run again with it afterwards. A value put aside costs one array slot, not a subscription and a
 * timer of its own: a consumer that holds back 100,000 expiries of other consumers' locks (a
 * mass failover in a balanced fleet) keeps 100,000 small records, not 100,000 operator chains.
 * One scheduled action serves every value due at the same time; values back from the room start
 * at most `releasedConcurrency` steps at once (the rest wait as plain values). Values of the
 * source run their step at once, unbounded, as with `mergeMany`, but at most `stepsPerTurn` steps
 * (of either kind) run before the operator yields: a flood of values (a mass failover brings
 * 100,000 expiries within a second) waits as plain values while the event loop reads its sockets,
 * so the answers that come meanwhile (the heartbeat's) are read on time and do not wait behind
 * seconds of steps. Completes when the source has completed, no step runs or waits and nothing is
 * held; unsubscribing drops what is held.
 *
 * ## Example
 * ```ts
 * expired$.pipe(mergeWithWaitingRoom((key, hold) => (mine(key) ? claim(key) : (hold(key, 1000), EMPTY))))
 * ```
 *
 * @param step maps a value to the Observable whose values are merged into the output; it may call `hold` instead (or as well)
 * @see mergeMany
 */
export function mergeWithWaitingRoom<T, R>(step: (value: T, hold: Hold<T>) => ObservableInput<R>, config: WaitingRoomConfig = {}): OperatorFunction<T, R> {
  const { scheduler = asyncScheduler, releasedConcurrency = 1000, stepsPerTurn = 1000 } = config;
  return (source) =>
    new Observable<R>((subscriber) => {
      const inners = new Set<Subscription>();
      /** Held values by the time they are due (scheduler clock). */
      const room = new Map<number, T[]>();
      let held = 0;
      /** Values due, waiting for a free place. */
      const due = new Queue<T>();
      let releasedRunning = 0;
      /** Source values waiting for the next turn. */
      const waiting = new Queue<T>();
      /** Steps this turn may still run, and the action of the next turn once one is needed. */
      let budget = stepsPerTurn;
      let nextTurn: Subscription | undefined;
      let draining = false;
      let alarm: Subscription | undefined;
      let alarmAt = Infinity;
      let sourceDone = false;

      const completeIfDone = (): void => {
        if (sourceDone && inners.size === 0 && held === 0 && due.empty && releasedRunning === 0 && waiting.empty) subscriber.complete();
      };
      /** One step of the budget, or false (and the next turn scheduled) when this turn has spent it. */
      const spend = (): boolean => {
        if (budget > 0) {
          budget--;
          return true;
        }
        nextTurn ??= scheduler.schedule(() => {
          nextTurn = undefined;
          budget = stepsPerTurn;
          drain();
        });
        return false;
      };
      const arm = (at: number): void => {
        alarm?.unsubscribe();
        alarmAt = at;
        alarm = scheduler.schedule(release, Math.max(0, at - scheduler.now()));
      };
      const hold: Hold<T> = (value, ms) => {
        const at = scheduler.now() + Math.max(0, ms);
        const bucket = room.get(at);
        if (bucket === undefined) room.set(at, [value]);
        else bucket.push(value);
        held++;
        if (at < alarmAt) arm(at);
      };
      function release(): void {
        alarm = undefined;
        alarmAt = Infinity;
        const now = scheduler.now();
        let next = Infinity;
        for (const [at, values] of room) {
          if (at <= now) {
            room.delete(at);
            held -= values.length;
            for (const v of values) due.push(v);
          } else if (at < next) next = at;
        }
        if (next < Infinity) arm(next);
        drain();
      }
      const drain = (): void => {
        if (draining) return;
        draining = true;
        while (!waiting.empty && spend()) {
          run(waiting.shift(), false);
          if (subscriber.closed) return;
        }
        while (releasedRunning < releasedConcurrency && !due.empty && spend()) {
          run(due.shift(), true);
          if (subscriber.closed) return;
        }
        draining = false;
        completeIfDone();
      };
      const releasedEnded = (): void => {
        releasedRunning--;
        drain();
      };
      const run = (value: T, released: boolean): void => {
        let inner: ObservableInput<R>;
        try {
          inner = step(value, hold);
        } catch (err) {
          subscriber.error(err);
          return;
        }
        // A value put aside (or dropped) is most steps of a mass failover: no subscription for it.
        if (inner === EMPTY) return released ? undefined : completeIfDone();
        if (released) releasedRunning++;
        subscribeInner(inner, subscriber, inners, released ? releasedEnded : completeIfDone);
      };

      const fromSource = (value: T): void => {
        if (waiting.empty && spend()) return run(value, false);
        waiting.push(value);
      };
      const teardown = subscribeOuter(source, subscriber, inners, fromSource, () => {
        sourceDone = true;
        completeIfDone();
      });
      return () => {
        teardown();
        alarm?.unsubscribe();
        nextTurn?.unsubscribe();
        room.clear();
        due.clear();
        waiting.clear();
      };
    });
}

/** A first-in first-out queue read from a head index (`Array.shift` moves every element); its array is let go once read to the end. */
class Queue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get empty(): boolean {
    return this.head === this.items.length;
  }

  push(value: T): void {
    this.items.push(value);
  }

  /** The oldest value; call only when not `empty`. */
  shift(): T {
    const value = this.items[this.head] as T;
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) this.clear();
    return value;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
