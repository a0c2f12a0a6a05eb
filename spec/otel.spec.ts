import { expect } from 'chai';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { HistogramMetricData, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { lastValueFrom } from 'rxjs';
import { AlreadyClaimedError, LBS_FIELD, addStream, groupName, lbsKey, lockKey } from '../lib';
import type { Notification } from '../lib';
import { OTEL_ATTRIBUTES, OTEL_METRICS, OpenTelemetryRecorder, deadLetterReason } from '../lib/otel';
import { locksOf, sleep, streamName, useService, waitUntil } from '../support/service';

/** The SDK's pull reader: `collect()` reads every instrument of the provider at once, in memory. */
class InMemoryReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const M = OTEL_METRICS;
const A = OTEL_ATTRIBUTES;

describe('OpenTelemetry recorder', () => {
  const hbInterval = 300;
  const t = useService('otel', { start: false, defaults: { hbInterval, lbsIdleTime: 60_000 } });

  it('reports every instrument of a running fleet as Redis sees it', async () => {
    const reader = new InMemoryReader();
    const provider = new MeterProvider({ readers: [reader] });
    t.onTeardown(() => provider.shutdown());
    const meter = provider.getMeter('spec');

    const recorder = (id: string) => new OpenTelemetryRecorder({ service: t.service, consumerId: id, meter, redis: t.admin });
    const [ra, rb] = [recorder('a'), recorder('b')];
    t.onTeardown(() => (ra.close(), rb.close()));
    const a = t.consumer('a', { metrics: ra });
    const b = t.consumer('b', { metrics: rb });
    /** Every consumer claims each expired stream it hears of, as `claimExpired` does. */
    const run = (c: typeof a) => {
      const sub = c.client.init().subscribe((n: Notification) => {
        c.events.push(n);
        if (n.type === 'StreamExpired') c.client.claim(n.payload).subscribe({ error: () => undefined });
      });
      t.onTeardown(() => sub.unsubscribe());
    };

    // a alone is handed four streams, and one entry that is not JSON (dead-lettered).
    run(a);
    const names = [0, 1, 2, 3].map((i) => streamName(t.service, i));
    for (const name of names) await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    await t.admin.xadd(lbsKey(t.service), '*', LBS_FIELD, 'not json');
    await a.waitFor('StreamAdded', 4);
    run(b);
    await sleep(200); // b subscribed to keyspace events

    const added = a.of('StreamAdded').map((n) => n.payload);
    const [finished, released, stolen] = added;
    await lastValueFrom(a.client.doneStream(finished!.dataStreamName), { defaultValue: undefined });
    // a hands one back: b hears it expire and claims it.
    await lastValueFrom(a.client.release(released!.dataStreamName), { defaultValue: undefined });
    await waitUntil(async () => (await t.admin.get(lockKey(released!.dataStreamName, released!.idInLbs))) === b.client.id, 5000, 'b claimed the released stream');
    // a claims what b now holds: lost.
    const lost = await lastValueFrom(a.client.claim(released!)).catch((e: unknown) => e);
    expect(lost).to.be.instanceOf(AlreadyClaimedError);
    // another consumer takes a lock of a's: a's next heartbeat disowns it.
    await t.admin.set(lockKey(stolen!.dataStreamName, stolen!.idInLbs), 'redis-consumer-thief', 'PX', 60_000);
    await waitUntil(() => a.of('StreamDisowned').length === 1, 5000, 'a disowned');
    await sleep(2 * hbInterval); // a few heartbeats of both

    const [xlen, pendingSummary] = await Promise.all([t.admin.xlen(lbsKey(t.service)), t.admin.xpending(lbsKey(t.service), groupName(t.service))]);
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).to.deep.equal([]);
    const locks = await locksOf(t.admin, t.service);

    const value = (name: string, consumer: string, extra: Record<string, string> = {}): number => sum(metric(resourceMetrics, name), { [A.consumer]: `redis-consumer-${consumer}`, [A.service]: t.service, ...extra });
    const heldBy = (consumer: string) => [...locks.values()].filter((h) => h === `redis-consumer-${consumer}`).length;

    expect({ a: value(M.owned, 'a'), b: value(M.owned, 'b') }).to.deep.equal({ a: heldBy('a'), b: heldBy('b') });
    expect({ a: value(M.owned, 'a'), b: value(M.owned, 'b') }).to.deep.equal({ a: 1, b: 1 });
    const counters = (c: string) => ({
      handedOut: value(M.handedOut, c),
      claimed: value(M.claimed, c),
      claimsLost: value(M.claimsLost, c),
      disowned: value(M.disowned, c),
      expired: value(M.expired, c),
      released: value(M.released, c),
      finished: value(M.finished, c),
      deadLettered: value(M.deadLettered, c),
    });
    expect(counters('a').deadLettered + counters('b').deadLettered).to.equal(1); // whoever read it
    expect(value(M.deadLettered, 'a', { [A.deadLetterReason]: 'not_json' }) + value(M.deadLettered, 'b', { [A.deadLetterReason]: 'not_json' })).to.equal(1);
    expect({ ...counters('a'), deadLettered: 0 }).to.deep.equal({ handedOut: 4, claimed: 0, claimsLost: 1, disowned: 1, expired: 0, released: 1, finished: 1, deadLettered: 0 });
    expect({ ...counters('b'), deadLettered: 0 }).to.deep.equal({ handedOut: 0, claimed: 1, claimsLost: 0, disowned: 0, expired: 1, released: 0, finished: 0, deadLettered: 0 });

    const claims = histogram(resourceMetrics, M.claimDuration);
    expect(count(claims, { [A.consumer]: 'redis-consumer-b', [A.claimOutcome]: 'won' })).to.equal(1);
    expect(count(claims, { [A.consumer]: 'redis-consumer-a', [A.claimOutcome]: 'lost' })).to.equal(1);
    expect(count(histogram(resourceMetrics, M.takeoverDuration), { [A.consumer]: 'redis-consumer-b' })).to.equal(1);
    for (const c of ['a', 'b']) expect(count(histogram(resourceMetrics, M.heartbeatDuration), { [A.consumer]: `redis-consumer-${c}` })).to.be.greaterThan(0);
    for (const h of [claims, histogram(resourceMetrics, M.takeoverDuration), histogram(resourceMetrics, M.heartbeatDuration)]) {
      expect(h.descriptor.unit).to.equal('s');
      for (const p of h.dataPoints) expect(p.value.sum! / p.value.count).to.be.within(0, 2); // seconds, not milliseconds
    }

    // The LBS gauges: what XLEN and XPENDING said at the same moment (nothing moves any more).
    const pending = Number((pendingSummary as unknown[])[0]);
    expect(pending).to.equal(3); // released (now b's), stolen (still a's entry), the one a kept
    for (const c of ['a', 'b']) {
      expect(value(M.lbsLength, c)).to.equal(xlen);
      expect(value(M.lbsPending, c)).to.equal(pending);
    }
    for (const m of allMetrics(resourceMetrics)) expect(m.descriptor.name).to.match(/^redis_stream_client\.[a-z_]+(\.[a-z_]+)+$/);
    expect(allMetrics(resourceMetrics).map((m) => m.descriptor.name).sort()).to.deep.equal(Object.values(M).sort());
  });

  it('maps dead-letter reasons to a fixed set', () => {
    expect(deadLetterReason('not JSON')).to.equal('not_json');
    expect(deadLetterReason('expected the field "lbs-input", got [x]')).to.equal('missing_field');
    expect(deadLetterReason('oversized: 10 bytes > maxEntryBytes 5')).to.equal('oversized');
    expect(deadLetterReason('DataStreamName contains the lock-key separator <MUTEX_KEY_SEP>')).to.equal('separator_in_name');
    expect(deadLetterReason('duplicate: data stream "s" is already handled by LBS entry 1-0')).to.equal('duplicate');
    expect(deadLetterReason('something new')).to.equal('other');
  });
});

const allMetrics = (rm: ResourceMetrics): MetricData[] => rm.scopeMetrics.flatMap((s) => s.metrics);

const metric = (rm: ResourceMetrics, name: string): MetricData => {
  const found = allMetrics(rm).find((m) => m.descriptor.name === name);
  if (found === undefined) throw new Error(`no instrument ${name} was collected`);
  return found;
};

const histogram = (rm: ResourceMetrics, name: string): HistogramMetricData => {
  const m = metric(rm, name);
  if (m.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${name} is not a histogram`);
  return m;
};

const matches = (attributes: Record<string, unknown>, wanted: Record<string, string>): boolean => Object.entries(wanted).every(([k, v]) => attributes[k] === v);

/** The sum of the data points of a counter or gauge whose attributes include `wanted`. */
const sum = (m: MetricData, wanted: Record<string, string>): number =>
  m.dataPointType === DataPointType.HISTOGRAM ? NaN : m.dataPoints.filter((p) => matches(p.attributes, wanted)).reduce((s, p) => s + (p.value as number), 0);

const count = (h: HistogramMetricData, wanted: Record<string, string>): number => h.dataPoints.filter((p) => matches(p.attributes, wanted)).reduce((s, p) => s + p.value.count, 0);
