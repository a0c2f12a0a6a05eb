import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { addStream, entryKeysOf, lockKey } from '../lib';
import { ChildConsumer } from '../support/child';
import type { ConsumerConfig, EventOf } from '../support/protocol';
import { sharedRedisUrl, sleep, streamName, useService } from '../support/service';

type Handled = EventOf<'handled'>;

/** Entry ids as numbers that sort like the ids. */
const order = (id: string): bigint => {
  const [ms, seq] = id.split('-') as [string, string];
  return BigInt(ms) * 1_000_000n + BigInt(seq);
};

describe('consumeStream across failovers (consumers in child processes)', function () {
  this.timeout(60_000);
  const hb = 500;
  const commitEntries = 10;
  const t = useService('entries-failover');

  const child = (pod: string, extra: Partial<ConsumerConfig> = {}): ChildConsumer => {
    const c = new ChildConsumer({
      redisUrl: sharedRedisUrl(),
      service: t.service,
      pod,
      hbInterval: hb,
      lbsIdleTime: 60_000,
      claim: true,
      process: 'operators',
      work: 'entries',
      entryMs: 5,
      commitEntries,
      commitMs: 10_000,
      ...extra,
    });
    t.onTeardown(() => c.kill());
    return c;
  };

  /** A data stream of `n` entries and an end entry, its ids in order. */
  const fill = async (name: string, n: number): Promise<string[]> => {
    const pipeline = t.admin.pipeline();
    for (let i = 0; i < n; i++) pipeline.xadd(name, '*', 'n', String(i));
    pipeline.xadd(name, '*', 'end', '1');
    return ((await pipeline.exec()) ?? []).map(([, id]) => id as string);
  };

  /** The first consumer owns the stream mid-way, the second one is ready to take over. */
  const midStream = async (n: number, extra: Partial<ConsumerConfig> = {}): Promise<{ name: string; ids: string[]; owner: ChildConsumer; other: ChildConsumer }> => {
    const name = streamName(t.service, 1);
    const ids = await fill(name, n);
    const [a, b] = [child('a', extra), child('b', extra)];
    await Promise.all([a.waitFor('ready'), b.waitFor('ready')]);
    await sleep(hb);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    await Promise.race([a.waitFor('handled'), b.waitFor('handled')]);
    const [owner, other] = a.of('handled').length > 0 ? [a, b] : [b, a];
    await owner.waitFor('handled', { count: Math.floor(n / 3) });
    return { name, ids, owner, other };
  };

  const handledIds = (c: ChildConsumer): string[] => c.of('handled').map((h: Handled) => h.entry);
  const strictlyInOrder = (ids: readonly string[]): boolean => ids.every((id, i) => i === 0 || order(id) > order(ids[i - 1]!));

  it('resumes after the last commit when the owner is killed (SIGKILL): nothing lost, order kept, handled twice at most one commit batch', async () => {
    const { ids, owner, other } = await midStream(300);
    owner.signal('SIGKILL');
    await other.waitFor('finished', { timeoutMs: 20_000 });
    const before = handledIds(owner);
    const after = handledIds(other);
    expect(strictlyInOrder(before), 'the killed owner in order').to.equal(true);
    expect(strictlyInOrder(after), 'the survivor in order').to.equal(true);
    expect(new Set([...before, ...after])).to.deep.equal(new Set(ids));
    const twice = after.filter((id) => before.includes(id));
    expect(twice.length, 'handled twice').to.be.at.most(commitEntries);
    expect(after[0], 'the survivor starts right after a committed entry').to.equal(ids[ids.indexOf(before[before.length - 1]!) - twice.length + 1]);
    expect(other.of('handled')[0]!.fence).to.be.greaterThan(owner.of('handled')[0]!.fence);
  });

  it('refuses the commits of an owner stopped past its TTL (SIGSTOP) once it resumes: nothing it commits lands, outcome Abandoned', async () => {
    const { name, ids, owner, other } = await midStream(300, { commitEntries: 5, entryMs: 5 });
    owner.signal('SIGSTOP');
    await other.waitFor('handled', { count: 40, timeoutMs: 15_000 });
    const id = owner.of('handled')[0]!.id;
    const committedKey = entryKeysOf(lockKey(name, id)).committed;
    const positions: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const p = await t.admin.get(committedKey);
        if (p !== null) positions.push(p);
        await sleep(2);
      }
    })();
    owner.signal('SIGCONT');
    await owner.waitFor('abandoned', { timeoutMs: 10_000 });
    await other.waitFor('finished', { timeoutMs: 20_000 });
    sampling = false;
    await sampler;
    expect(strictlyInOrder(positions.filter((p, i) => i === 0 || p !== positions[i - 1])), 'the committed position never moves back').to.equal(true);
    const stale = handledIds(owner);
    expect(new Set([...stale, ...handledIds(other)])).to.deep.equal(new Set(ids));
    expect(other.of('handled')[0]!.fence).to.be.greaterThan(owner.of('handled')[0]!.fence);
  });

  it('hands a stream over on shutdown mid-stream with nothing handled twice', async () => {
    const { ids, owner, other } = await midStream(300, { onSigterm: 'shutdown' });
    owner.signal('SIGTERM');
    await owner.waitFor('stopped');
    await other.waitFor('finished', { timeoutMs: 20_000 });
    const all = [...handledIds(owner), ...handledIds(other)];
    expect(all).to.deep.equal(ids);
  });
});
