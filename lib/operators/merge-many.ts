import { Observable, ObservableInput, OperatorFunction, Subscriber, Subscription, from } from 'rxjs';

/**
 * `mergeMap` (no concurrency limit) for tens of thousands of inner Observables alive at once.
 * RxJS's `mergeMap` makes every inner subscription a child of the outer one and removes it from an
 * array when it ends, so n inners that end together cost time in n²: 100,000 claims waiting for
 * one batched reply take seconds of a core. Here the inners are kept in a `Set` and cost linear
 * time. The outer completes when the source and every inner completed; an error from either ends
 * it, and unsubscribing ends every inner.
 *
 * ## Example
 * ```ts
 * expired$.pipe(mergeMany((info) => client.claim(info))) // 100k claims in flight, one batched reply
 * ```
 *
 * @param project maps each value to the Observable whose values are merged into the output
 * @see mergeMap
 */
export function mergeMany<T, R>(project: (value: T) => ObservableInput<R>): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const inners = new Set<Subscription>();
      let sourceDone = false;
      const completeIfDone = (): void => {
        if (sourceDone && inners.size === 0) subscriber.complete();
      };
      return subscribeOuter(source, subscriber, inners, (value) => {
        let inner: ObservableInput<R>;
        try {
          inner = project(value);
        } catch (err) {
          subscriber.error(err);
          return;
        }
        subscribeInner(inner, subscriber, inners, completeIfDone);
      }, () => {
        sourceDone = true;
        completeIfDone();
      });
    });
}

/**
 * @internal Subscribes the source of a merging operator: `next` for each value, its error to
 * `subscriber`, `completed` when it completes. The returned teardown ends the source and every
 * inner still in `inners`.
 */
export const subscribeOuter = <T, R>(source: Observable<T>, subscriber: Subscriber<R>, inners: Set<Subscription>, next: (value: T) => void, completed: () => void): (() => void) => {
  const outer = source.subscribe({ next, error: (err: unknown) => subscriber.error(err), complete: completed });
  return () => {
    outer.unsubscribe();
    for (const inner of inners) inner.unsubscribe();
    inners.clear();
  };
};

/**
 * The observer of one inner: its values and error go to the outer subscriber, and its subscription
 * leaves `inners` when it completes. One object per inner, with no closures of its own: a mass
 * failover runs hundreds of thousands of inners.
 */
class InnerObserver<R> {
  done = false;
  subscription: Subscription | undefined = undefined;

  constructor(
    private readonly subscriber: Subscriber<R>,
    private readonly inners: Set<Subscription>,
    private readonly ended: () => void,
  ) {}

  next(r: R): void {
    this.subscriber.next(r);
  }

  error(err: unknown): void {
    this.subscriber.error(err);
  }

  complete(): void {
    this.done = true;
    if (this.subscription !== undefined) this.inners.delete(this.subscription);
    this.ended();
  }
}

/**
 * @internal Subscribes one inner of a merging operator: its values and error go to `subscriber`,
 * its subscription is kept in `inners` while it runs (not at all when it ends synchronously), and
 * `ended` is told when it completes.
 */
export const subscribeInner = <R>(inner: ObservableInput<R>, subscriber: Subscriber<R>, inners: Set<Subscription>, ended: () => void): void => {
  const observer = new InnerObserver(subscriber, inners, ended);
  const subscription = from(inner).subscribe(observer);
  observer.subscription = subscription;
  if (!observer.done && !subscription.closed) inners.add(subscription);
};
