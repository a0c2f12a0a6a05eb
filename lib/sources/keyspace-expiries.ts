import { Observable } from 'rxjs';
import { keyspacePattern, keyspacePrefix } from '../redis/keys';

/** The part of a subscriber connection this source uses (an ioredis connection fits). */
export interface PatternSubscriber {
  psubscribe(pattern: string): Promise<unknown>;
  punsubscribe(pattern: string): Promise<unknown>;
  on(event: 'pmessage', listener: (pattern: string, channel: string, message: string) => void): unknown;
  off(event: 'pmessage', listener: (pattern: string, channel: string, message: string) => void): unknown;
}

/**
 * Keys of expired locks in `db`, from keyspace notifications (PSUBSCRIBE
 * `__keyspace@<db>__:*<MUTEX_KEY_SEP>*`, message `expired`). Errors if the subscription is refused.
 * At-most-once, like all Pub/Sub: events sent while the connection reconnects are lost.
 */
export const keyspaceExpiries$ = (subscriber: PatternSubscriber, db: number): Observable<string> =>
  new Observable<string>((subscriber$) => {
    const pattern = keyspacePattern(db);
    const prefix = keyspacePrefix(db);
    const onMessage = (matched: string, channel: string, message: string): void => {
      if (matched === pattern && message === 'expired') subscriber$.next(channel.slice(prefix.length));
    };
    subscriber.on('pmessage', onMessage);
    subscriber.psubscribe(pattern).catch((err: unknown) => subscriber$.error(err));
    return () => {
      subscriber.off('pmessage', onMessage);
      subscriber.punsubscribe(pattern).catch(() => undefined);
    };
  });
