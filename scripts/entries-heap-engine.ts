/**
 * Heap that `consumeStream` itself adds per idle stream, without Redis: an EntryEngine on a port
 * whose reads never answer, N leases in a ledger, N consumeStream subscriptions waiting for
 * entries; heap per stream after a full GC (after a warm-up round).
 *
 *   node --expose-gc --require tsx/cjs scripts/entries-heap-engine.ts [N]
 */
import { Subscription, asyncScheduler, of } from 'rxjs';
import { EntryEngine } from '../lib/entries/engine';
import type { EntryPort } from '../lib/entries/port';
import { lockKey } from '../lib/keys';
import { LeaseLedger } from '../lib/lease/ledger';
import { heapAfterGc, sleep } from './heap-after-gc';

const n = Number(process.argv[2] ?? 20_000);
const heap = (): Promise<number> => heapAfterGc();
const port: EntryPort = {
  open: async () => undefined,
  read: () => new Promise(() => undefined),
  unblock: async () => false,
  committed: async () => null,
  entryAt: async () => null,
  commit: async () => ({ kind: 'committed' }),
  types: async (keys) => keys.map(() => 'stream'),
  deadLetter: async () => undefined,
  close: () => undefined,
};
const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

const measure = async (count: number): Promise<number> => {
  const ledger = new LeaseLedger(lockKey, () => Date.now(), 10_000);
  const streams = Array.from({ length: count }, (_, i) => ledger.take({ dataStreamName: `s${i}`, idInLbs: '1-0' }, {}, 1));
  const engine = new EntryEngine({ port, ledger, consumer: 'me', blockMs: 2000, scheduler: asyncScheduler, log });
  const before = await heap();
  const subs: Subscription[] = streams.map((lease) => engine.consume({ payload: lease.payload, additionalInfo: {} }, () => of(0)).subscribe());
  await sleep(50);
  const after = await heap();
  if (engine.consuming !== count) throw new Error(`only ${engine.consuming} of ${count} consuming`);
  for (const s of subs) s.unsubscribe();
  engine.close();
  return (after - before) / count;
};

void (async () => {
  await measure(1000);
  const perStream = await measure(n);
  console.log(JSON.stringify({ streams: n, consumeStreamBytesPerIdleStream: Math.round(perStream) }));
  process.exit(0);
})();
