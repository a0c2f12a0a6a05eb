/**
 * Heap per stream held by `processStreams` alone (handler NEVER), no Redis:
 * `node --expose-gc --require tsx/cjs scripts/process-streams-heap.ts [streams]`.
 */
import { NEVER, Subject } from 'rxjs';
import { processStreams } from '../lib/operators/process-streams';
import type { OwnershipNotification } from '../lib/types';
import { heapAfterGc } from './heap-after-gc';

const count = Number(process.argv[2] ?? 20_000);
const heap = (): Promise<number> => heapAfterGc();

const main = async (): Promise<void> => {
  const source = new Subject<OwnershipNotification>();
  const finisher = { doneStream: () => NEVER, release: () => NEVER };
  const sub = source.pipe(processStreams(finisher, () => NEVER)).subscribe();
  const names = Array.from({ length: count }, (_, i) => `stream-${i}`);
  const before = await heap();
  for (const name of names) source.next({ type: 'StreamAdded', payload: { dataStreamName: name, idInLbs: `${name}-0`, fence: 1 }, additionalInfo: {} });
  const after = await heap();
  console.log(`processStreams: ${Math.round((after - before) / count)} B per held stream (${count} streams)`);
  sub.unsubscribe();
};

void main();
