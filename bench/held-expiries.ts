/**
 * Heap per expiry that a consumer holds back for the balance wait: `N` (default 100,000) expiries
 * of other consumers' locks reach `keyspaceExpiries$` at once while the fleet says "wait 2 s"
 * (a consumer that is not the designated claimer of any of them: the case of every survivor but
 * one when a consumer holding N streams dies). No Redis: a port that answers at once.
 *
 *   node --expose-gc --require tsx/cjs bench/held-expiries.ts
 */
import { Subject, asyncScheduler, of } from 'rxjs';
import { lockKey } from '../lib/keys';
import { keyspaceExpiries$ } from '../lib/sources/keyspace-expiries';
import { fakePort, specDeps } from '../marbles/support/deps';

const N = Number(process.env.N ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const keys$ = new Subject<string>();
const deps = specDeps(asyncScheduler, fakePort({ entry: () => of(null), touchLock: () => of(1000) }), { hbInterval: 2000 });
const fleet = { claimDelay: () => 2000, full: () => false };
const sub = keyspaceExpiries$({ ...deps, fleet, scheduler: asyncScheduler, session: { expiredLockKeys$: keys$ } }).subscribe();
const names = Array.from({ length: N }, (_, i) => lockKey(`owned-${i}`, `1764620000000-${i}`));
const before = heap();
for (const key of names) keys$.next(key);
const held = heap() - before;
console.log(`${N} expiries held back: +${(held / 1e6).toFixed(1)} MB of heap, ${(held / N).toFixed(0)} bytes each`);
sub.unsubscribe();
