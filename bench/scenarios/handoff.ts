/**
 * Scenario 4: graceful handoff, `client.release(name)` -> claimed by another consumer.
 *
 * Consumer A (a `RedisStreamClient` in this process) is handed M streams; consumer B (another
 * client in this process, its own connections) then starts and claims every `StreamExpired`
 * (`claimExpired`). `release()` deliberately waits until the entry was delivered at least
 * hbInterval ago (XCLAIM min-idle), so A holds its streams for longer than hbInterval before the
 * first release: `release()` then runs `expireLock` at once, and the clock (started when
 * `release()` is subscribed) measures expireLock -> expired event -> B's claim. Releases run one
 * at a time; the first few are a warm-up. A stream B has not claimed within 5 s counts as ∞ (and
 * the run notes whether A itself was handed it back).
 */
import { Subscription, filter, lastValueFrom, tap } from 'rxjs';
import { RedisStreamClient, claimExpired } from '../../lib';
import type { RedisServer } from '../../support/redis-server';
import { createGroup, sleep } from '../../support/service';
import { fillLbs } from '../lib/lbs';
import type { BenchConfig, Row } from '../lib/report';
import { fmt, nowMs, percentile, progress, waitFor, waitOrThrow } from '../lib/stats';

const HB = 2000;
const WARMUP = 5;

export const handoffScenario = async (server: RedisServer, config: BenchConfig): Promise<Row[]> => {
  const service = 'bench-handoff';
  const m = (config.quick ? 100 : 300) + WARMUP;
  const setup = server.connect();
  const connA = server.connect();
  const connB = server.connect();
  const a = new RedisStreamClient(connA, service, { consumerId: 'bench-handoff-a', hbInterval: HB });
  const b = new RedisStreamClient(connB, service, { consumerId: 'bench-handoff-b', hbInterval: HB });
  const ownedByA: string[] = [];
  /** Streams A was handed again after releasing them (its own recovery took the lockless entry back). */
  const retakenByA = new Set<string>();
  let releasing = false;
  const claimedByB = new Map<string, number>();
  /** When B heard StreamExpired of each stream (first time), and claim errors other than a lost race. */
  const expiredAtB = new Map<string, number>();
  const claimErrors = new Map<string, string>();
  const subscriptions: Subscription[] = [];
  try {
    await createGroup(setup, service);
    subscriptions.push(
      a
        .init()
        .pipe(filter((n) => n.type === 'StreamAdded'))
        .subscribe((n) => {
          if (releasing) retakenByA.add(n.payload.dataStreamName);
          else ownedByA.push(n.payload.dataStreamName);
        }),
    );
    await fillLbs(setup, service, m);
    await waitOrThrow(() => ownedByA.length >= m, 10_000, `${m} streams handed to A`);
    subscriptions.push(
      b
        .init()
        .pipe(
          tap((n) => {
            if (n.type === 'StreamExpired' && !expiredAtB.has(n.payload.dataStreamName)) expiredAtB.set(n.payload.dataStreamName, nowMs());
          }),
          claimExpired(b, { onError: (err, info) => claimErrors.set(info.dataStreamName, String((err as { code?: string }).code ?? err)) }),
        )
        .subscribe((n) => {
          // A claim won after StreamExpired, or StreamAdded when B's recovery/reconciler took the lockless entry first.
          if ((n.type === 'StreamClaimed' || n.type === 'StreamAdded') && !claimedByB.has(n.payload.dataStreamName)) {
            claimedByB.set(n.payload.dataStreamName, nowMs());
          }
        }),
    );
    await sleep(HB + 300); // past XCLAIM's min-idle: release() does not wait
    progress('handoff', `A holds ${m} streams for more than hbInterval; releasing them one at a time`);
    const latencies: number[] = [];
    const releaseCalls: number[] = [];
    const slow: string[] = [];
    releasing = true;
    for (const [i, name] of [...ownedByA].entries()) {
      const t0 = nowMs();
      await lastValueFrom(a.release(name), { defaultValue: undefined });
      const released = nowMs();
      await waitFor(() => claimedByB.has(name) || retakenByA.has(name), 5000, 1);
      if (i >= WARMUP) {
        const latency = claimedByB.has(name) ? claimedByB.get(name)! - t0 : Infinity;
        latencies.push(latency);
        releaseCalls.push(released - t0);
        if (latency > 50) {
          const heard = expiredAtB.get(name);
          slow.push(
            `${name}: ${Number.isFinite(latency) ? `${fmt(latency, 0)} ms` : 'not claimed'}; release() took ${fmt(released - t0, 1)} ms; ` +
              `B heard StreamExpired ${heard === undefined ? 'never' : `after ${fmt(heard - t0, 1)} ms`}` +
              `${claimErrors.has(name) ? `; claim error ${claimErrors.get(name)}` : ''}${retakenByA.has(name) ? '; A was handed it back' : ''}`,
          );
        }
      }
    }
    for (const line of slow) progress('handoff', `  slow: ${line}`);
    const notClaimed = latencies.filter((l) => !Number.isFinite(l)).length;
    if (notClaimed > 0) progress('handoff', `${notClaimed} released streams not claimed by B within 5 s (${retakenByA.size} taken back by A itself)`);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    progress('handoff', `release -> claimed p50 ${fmt(p50, 2)} ms, p99 ${fmt(p99, 2)} ms over ${latencies.length}`);
    return [
      {
        id: 'handoff',
        scenario: '4 graceful handoff release->claimed (ms)',
        ours: `p50 ${fmt(p50, 1)} / p99 ${Number.isFinite(p99) ? fmt(p99, 1) : '>5000'}${notClaimed > 0 ? ` (${notClaimed}/${latencies.length} not claimed)` : ''}`,
        baseline: '-',
        ratio: '-',
        target: 'p99 <= 50',
        pass: p99 <= 50 && notClaimed === 0,
        values: {
          samples: latencies.length,
          p50Ms: p50,
          p99Ms: p99,
          releaseCallP50Ms: percentile(releaseCalls, 50),
          heldLongerThanHbInterval: true,
          notClaimedWithin5s: notClaimed,
          takenBackByReleaser: retakenByA.size,
          latenciesMs: latencies.map((l) => (Number.isFinite(l) ? l : null)),
          slowerThan50Ms: slow,
        },
      },
    ];
  } finally {
    for (const s of subscriptions) s.unsubscribe();
    for (const c of [setup, connA, connB]) c.disconnect();
  }
};
