/**
 * Reproduction (lib bug found by the chaos rows `sigstop-owner` / `block-event-loop`): an LBS entry
 * is processed and acknowledged twice when the reply of a blocked XREADGROUP reaches its consumer
 * late (its event loop was blocked by a CPU-bound step, the process was stopped, the network slow).
 *
 *   node --require tsx/cjs chaos/repro-late-read-reply.ts      # exit 1: reproduced
 *
 * Fixed by commit fa5d003 (the hand-out takes a lock only while the entry is still pending for
 * this consumer); kept as a regression check: it exits 0 when the late reply is refused.
 *
 * 1. Consumer A (a child process running support/consumer.ts) is alone; its reader is blocked in
 *    XREADGROUP. A's event loop is blocked for 4 s by a busy-wait in a timer callback (SIGUSR2).
 * 2. A stream is added: Redis hands it to A's blocked read (the reply waits in A's socket). No lock.
 * 3. Consumer B starts. Its reconciler finds the entry pending with no lock, claims it, processes
 *    it and finishes it (XACK, XDEL, lock deleted).
 * 4. A's event loop runs again and reads the reply (after a timer callback, Node polls sockets
 *    before it runs the timers that fell due meanwhile, so ioredis' client-side blocking timeout
 *    does not get there first): it takes the lock (SET NX: nobody holds it any more)
 *    without checking that the entry is still pending for it, processes the finished stream again,
 *    and its doneStream succeeds (finish-4.lua accepts an entry that is no longer pending when the
 *    caller holds the lock). Both consumers report `Processed` for the same LBS entry.
 */
import { sleep, waitUntil } from '../support/service';
import { ConsumerProc } from './consumers';
import { runRepro } from './repro';
import type Redis from 'ioredis';
import { RIDE_OUT, RedisServer } from '../support/redis-server';

const attempt = async (server: RedisServer, admin: Redis, service: string): Promise<boolean> => {
  const env = (pod: string) => ({ redisUrl: server.url, service, pod, hbInterval: 1000, workMinMs: 200, workMaxMs: 200, blockMs: 4000 });
  const waitFor = (what: () => boolean, ms: number, label: string) => waitUntil(what, ms, label, 10);

  const a = new ConsumerProc(0, env('a'));
  await waitFor(() => a.of('ready').length > 0, 10_000, 'A ready');
  // A's reader blocked in XREADGROUP, then A's event loop blocked.
  await sleep(300);
  a.signal('SIGUSR2');
  await waitFor(() => a.of('block-start').length > 0, 5000, 'A blocked');
  const blocked = ((await admin.client('LIST')) as string).split('\n').some((l) => l.includes('name=rscrx-reader') && l.includes('cmd=xreadgroup') && / flags=\S*b/.test(l));
  const id = (await admin.xadd(`${service}-input`, '*', 'lbs-input', JSON.stringify({ DataStreamName: 's1', Info: { workMs: 200 } }))) as string;
  console.log(`A's event loop blocked (its XREADGROUP blocked in Redis: ${blocked}); added s1 as ${id}`);

  const b = new ConsumerProc(1, env('b'));
  await waitFor(() => b.of('finished').some((e) => e.id === id), 15_000, 'B finished s1');
  console.log(`B took the entry (${b.events.find((e) => e.id === id && (e.event === 'added' || e.event === 'claimed'))?.event}) and finished it; XLEN now ${await admin.xlen(`${service}-input`)}`);

  const wake = Date.now();
  await waitFor(() => a.of('block-end').length > 0, 10_000, 'A unblocked');
  console.log(`B finished it ${a.of('block-end')[0]!.at - (b.of('finished').find((e) => e.id === id)?.at ?? wake)} ms before A's event loop ran again`);
  await sleep(1500);
  const finishedBy = [a, b].filter((c) => c.of('finished').some((e) => e.id === id)).map((c) => c.name);
  console.log(`A after its event loop ran again: ${a.events.filter((e) => e.id === id).map((e) => e.event).join(", ") || "nothing"}`);
  if (process.env.DEBUG) for (const e of a.events) console.log("   A", e.at, e.event, e.id ?? "", "message" in e ? e.message : "");
  console.log(`entry ${id} reported Processed by: ${finishedBy.join(', ')}`);
  const bug = finishedBy.length > 1;
  console.log(bug ? 'BUG REPRODUCED: one LBS entry processed and acknowledged twice' : `not reproduced${blocked ? '' : ' (A was not blocked in XREADGROUP; run again)'}`);
  await a.kill();
  await b.kill();
  return bug;
};

const main = async (): Promise<boolean> => {
  const server = await RedisServer.start();
  const admin = server.connect({ ...RIDE_OUT, connectionName: 'repro-admin' });
  let bug = false;
  for (let i = 1; i <= 5 && !bug; i++) {
    console.log(`attempt ${i}`);
    bug = await attempt(server, admin, `repro-${i}`);
  }
  admin.disconnect();
  await server.stop();
  return bug;
};

runRepro(main);
