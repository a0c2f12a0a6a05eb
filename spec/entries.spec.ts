import { expect } from 'chai';
import { Observable, Subscription, from, lastValueFrom, of, timer } from 'rxjs';
import { tap } from 'rxjs/operators';
import { DataStreamTypeError, NotOwnerError, RedisStreamClient, StreamHandlerError, addStream, claimExpired, consumeStream, deadLetterKey, entryKeysOf, lockKey, processStreams } from '../lib';
import type { ConsumeStreamConfig, EntryHandler, OwnedStreamInfo, StreamAdded, StreamClaimed, StreamOutcome } from '../lib';
import { Consumer, sleep, streamName, useService, waitUntil } from '../support/service';

interface Handled {
  readonly consumer: string;
  readonly stream: string;
  readonly id: string;
  readonly fence: number;
}

describe('consumeStream: the entries of owned streams (real Redis)', function () {
  this.timeout(30_000);
  const hbInterval = 300;
  const t = useService('entries', { defaults: { hbInterval } });

  /** A consumer that claims expired streams and consumes every stream it owns with `handler` (default: records each entry). */
  const consuming = (id: string, config: ConsumeStreamConfig = {}, handler?: (c: Consumer) => EntryHandler) => {
    const c = t.consumer(id);
    const handled: Handled[] = [];
    const outcomes: StreamOutcome[] = [];
    const owned: (StreamAdded | StreamClaimed)[] = [];
    const record: EntryHandler = (entry, ctx) => of(0).pipe(tap(() => handled.push({ consumer: id, stream: ctx.dataStreamName, id: entry.id, fence: ctx.fence })));
    const inner = handler?.(c);
    const sub: Subscription = c.client
      .init()
      .pipe(
        claimExpired(c.client),
        tap((n) => void ((n.type === 'StreamAdded' || n.type === 'StreamClaimed') && owned.push(n))),
        processStreams(c.client, (s: OwnedStreamInfo) => consumeStream(c.client, s, inner === undefined ? record : (e, ctx) => from(inner(e, ctx)).pipe(tap({ complete: () => void from(record(e, ctx)).subscribe() })), config)),
      )
      .subscribe((o) => outcomes.push(o));
    t.onTeardown(() => sub.unsubscribe());
    return { c, handled, outcomes, owned, client: c.client, stop: () => sub.unsubscribe() };
  };

  const fill = async (name: string, n: number, from = 0): Promise<string[]> => {
    const pipeline = t.admin.pipeline();
    for (let i = from; i < from + n; i++) pipeline.xadd(name, '*', 'n', String(i));
    return ((await pipeline.exec()) ?? []).map(([, id]) => id as string);
  };
  const end = (name: string): Promise<string> => t.admin.xadd(name, '*', 'end', '1') as Promise<string>;
  const slow = (ms: number) => () => (): Observable<unknown> => timer(ms);
  /** A stream of `n` entries and an end, consumed by `a` (2 ms an entry, commits never due) until it handled 40, with `b` ready to take over. */
  const midStream = async (n: number) => {
    const name = streamName(t.service, 1);
    const ids = [...(await fill(name, n)), await end(name)];
    const config: ConsumeStreamConfig = { until: (e) => e.fields.end === '1', commitEvery: { entries: 1000, ms: 10_000 } };
    const a = consuming('a', config, slow(2));
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    await waitUntil(() => a.handled.length > 0, 5000, 'a to start');
    const b = consuming('b', config, slow(2));
    await waitUntil(() => a.handled.length >= 40, 5000, 'a to handle 40');
    return { name, ids, a, b };
  };

  it('handles every entry in order, commits, completes after `until`, and doneStream clears the position and the fence', async () => {
    const name = streamName(t.service, 1);
    const ids = [...(await fill(name, 250)), await end(name)];
    const a = consuming('a', { until: (e) => e.fields.end === '1', commitEvery: { entries: 40, ms: 20 } });
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    await waitUntil(() => a.outcomes.length === 1, 10_000, 'the stream processed');
    expect(a.outcomes[0]!.type).to.equal('Processed');
    expect(a.handled.map((h) => h.id)).to.deep.equal(ids);
    expect(a.handled.every((h) => h.fence === 1)).to.equal(true);
    const lock = lockKey(name, a.outcomes[0]!.payload.idInLbs);
    expect(await t.admin.exists(lock, entryKeysOf(lock).committed, entryKeysOf(lock).fence)).to.equal(0);
  });

  it('reads a stream that does not exist yet once it is created, and keeps the other streams going', async () => {
    const [empty, busy] = [streamName(t.service, 'empty'), streamName(t.service, 'busy')];
    const a = consuming('a', { until: (e) => e.fields.end === '1' });
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: empty }));
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: busy }));
    await fill(busy, 20);
    await waitUntil(() => a.handled.length === 20, 5000, 'the busy stream read');
    await sleep(hbInterval * 2);
    const later = await end(empty);
    await end(busy);
    await waitUntil(() => a.outcomes.length === 2, 5000, 'both streams processed');
    expect(a.handled.filter((h) => h.stream === empty).map((h) => h.id)).to.deep.equal([later]);
    expect(a.outcomes.map((o) => o.type)).to.deep.equal(['Processed', 'Processed']);
  });

  it('hands over a huge entry, odd field names and binary values as they are', async () => {
    const name = streamName(t.service, 'odd');
    const huge = 'x'.repeat(4 * 1024 * 1024);
    const seen: Record<string, string>[] = [];
    const a = consuming('a', { until: (e) => e.fields.end === '1' }, () => (e) => of(seen.push(e.fields)));
    await t.admin.xadd(name, '*', 'big', huge);
    await t.admin.xadd(name, '*', '__proto__', 'p', 'constructor', 'c', '', 'empty-name', 'with space', 'héllo ✓');
    await t.admin.xadd(name, '*', 'nul', 'a\u0000b', 'bytes', Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    await end(name);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    await waitUntil(() => a.outcomes.length === 1, 10_000, 'the stream processed');
    expect(a.outcomes[0]!.type).to.equal('Processed');
    expect(seen[0]!.big!.length).to.equal(huge.length);
    expect(Object.keys(seen[1]!)).to.deep.equal(['__proto__', 'constructor', '', 'with space']);
    expect(seen[1]!['__proto__']).to.equal('p');
    expect(seen[1]!['with space']).to.equal('héllo ✓');
    expect(seen[2]!.nul).to.equal('a\u0000b');
    // Field values are UTF-8 strings: bytes that are not UTF-8 arrive replaced (U+FFFD), the entry is still handled.
    expect(seen[2]!.bytes).to.equal('\ufffd\ufffd\u0000A');
  });

  it('completes the work of a stream whose key was deleted, fails one that is not a stream, and keeps the others going', async () => {
    const [gone, wrong, fine] = ['gone', 'wrong', 'fine'].map((s) => streamName(t.service, s)) as [string, string, string];
    await fill(gone, 3);
    await t.admin.set(wrong, 'not a stream');
    const a = consuming('a', { until: (e) => e.fields.end === '1' });
    for (const name of [gone, wrong, fine]) await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    await waitUntil(() => a.handled.filter((h) => h.stream === gone).length === 3, 5000, 'the first entries read');
    await t.admin.del(gone);
    await fill(fine, 5);
    await end(fine);
    await waitUntil(() => a.outcomes.length === 3, hbInterval * 10, () => `three outcomes (have ${a.outcomes.map((o) => o.type)})`);
    const outcome = (name: string) => a.outcomes.find((o) => o.payload.dataStreamName === name)!;
    expect(outcome(gone).type).to.equal('Processed');
    expect(outcome(fine).type).to.equal('Processed');
    const failed = outcome(wrong);
    expect(failed.type).to.equal('Failed');
    expect(((failed as { error: StreamHandlerError }).error.cause as Error)).to.be.instanceOf(DataStreamTypeError);
    expect(a.handled.filter((h) => h.stream === fine)).to.have.length(6);
  });

  it('copies an entry the handler marks as poison to <service>-dead and commits past it', async () => {
    const name = streamName(t.service, 1);
    await t.admin.xadd(name, '*', 'n', '0');
    const poison = (await t.admin.xadd(name, '*', 'n', 'bad', 'k', 'v')) as string;
    await end(name);
    const a = consuming('a', { until: (e) => e.fields.end === '1' }, () => (e, ctx) => (e.fields.n === 'bad' ? ctx.deadLetter('cannot parse n') : of(0)));
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    await waitUntil(() => a.outcomes.length === 1, 5000, 'the stream processed');
    const dead = await t.admin.xrange(deadLetterKey(t.service), '-', '+');
    expect(dead).to.have.length(1);
    expect(dead[0]![1]).to.deep.equal(['data-stream', name, 'entry-id', poison, 'reason', 'cannot parse n', 'consumer', 'redis-consumer-a', 'n', 'bad', 'k', 'v']);
    expect(a.handled).to.have.length(3);
  });

  it('refuses the commit of an owner whose lock another consumer took: nothing written, Abandoned, dropped here', async () => {
    const name = streamName(t.service, 1);
    await fill(name, 5);
    const a = consuming('a', { commitEvery: { entries: 1, ms: 10 } }, slow(5));
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    await waitUntil(() => a.handled.length === 5, 5000, 'five entries handled');
    const lock = lockKey(name, a.owned[0]!.payload.idInLbs);
    const committed = await t.admin.get(entryKeysOf(lock).committed);
    await t.admin.set(lock, 'redis-consumer-thief', 'PX', 10_000);
    await fill(name, 1, 5);
    await waitUntil(() => a.outcomes.length === 1, 5000, 'an outcome');
    expect(a.outcomes[0]!.type).to.equal('Abandoned');
    expect(await t.admin.get(entryKeysOf(lock).committed)).to.equal(committed);
    expect(a.client.entryEngine.isConsuming(name)).to.equal(false);
    expect(await t.admin.get(lock)).to.equal('redis-consumer-thief');
  });

  it('after release mid-stream the next owner resumes right after the last handled entry: nothing handled twice', async () => {
    const { name, ids, a, b } = await midStream(150);
    await lastValueFrom(a.client.release(name), { defaultValue: undefined });
    // Whoever takes it next (usually b) resumes right after the flushed position.
    const processed = () => [...a.outcomes, ...b.outcomes].filter((o) => o.type === 'Processed').length;
    await waitUntil(() => processed() === 1, 10_000, 'the stream finished');
    const all = [...a.handled, ...b.handled].sort((x, y) => x.fence - y.fence).map((h) => h.id);
    expect(all).to.deep.equal(ids);
    expect(a.outcomes[0]!.type).to.equal('Abandoned');
    expect(Math.max(...[...a.handled, ...b.handled].map((h) => h.fence))).to.be.greaterThan(a.handled[0]!.fence);
  });

  it('handBack stops the stream after flushing its commits: Rebalanced, released, and the next owner repeats nothing', async () => {
    const { name, ids, a, b } = await midStream(300);
    expect(a.client.entryEngine.isConsuming(name)).to.equal(true);
    expect(a.client.entryEngine.handBack(name)).to.equal(true);
    expect(a.client.entryEngine.handBack('not-owned')).to.equal(false);
    await waitUntil(() => a.outcomes.length === 1, 5000, 'a to hand it back');
    expect(a.outcomes[0]!.type).to.equal('Rebalanced');
    // Whoever takes it next (usually b) resumes after the flushed position.
    const processed = () => [...a.outcomes, ...b.outcomes].filter((o) => o.type === 'Processed').length;
    await waitUntil(() => processed() === 1, 10_000, 'the stream finished');
    expect([...a.handled, ...b.handled].sort((x, y) => x.fence - y.fence).map((h) => h.id)).to.deep.equal(ids);
  });

  it('grows the fence strictly over 20 takeovers of one stream among 3 consumers; ctx.fence is payload.fence', async () => {
    const name = streamName(t.service, 1);
    await fill(name, 1);
    const consumers = ['a', 'b', 'c'].map((id) => consuming(id, {}, slow(1)));
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    const takes = () => consumers.flatMap((x) => x.owned).length;
    for (let i = 1; i <= 20; i++) {
      await waitUntil(() => takes() === i, 5000, `take ${i}`);
      const owner = consumers.find((x) => x.client.entryEngine.isConsuming(name))!;
      await waitUntil(() => owner.handled.some((h) => h.fence === Math.max(...consumers.flatMap((x) => x.owned).map((n) => n.payload.fence))), 5000, 'the owner to handle an entry');
      await lastValueFrom(owner.client.release(name), { defaultValue: undefined });
      await fill(name, 1, i);
    }
    await waitUntil(() => takes() === 21, 5000, 'take 21');
    const fences = consumers.flatMap((x) => x.owned).map((n) => n.payload.fence).sort((x, y) => x - y);
    expect(fences).to.deep.equal(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(new Set(consumers.flatMap((x) => x.owned.map(() => x.c.client.id))).size).to.be.greaterThan(1);
    for (const x of consumers) for (const h of x.handled) expect(x.owned.some((n) => n.payload.fence === h.fence), `fence ${h.fence} handled by ${x.c.client.id}`).to.equal(true);
  });

  /**
   * One stream of one entry, consumed by `a`, its first entry committed: a commit refused for want
   * of the lock would end this work instead (Abandoned).
   */
  const committedOnce = async () => {
    const name = streamName(t.service, 1);
    await fill(name, 1);
    const a = consuming('a', {}, slow(1));
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    await waitUntil(() => a.handled.length === 1, 5000, 'one entry');
    const lock = lockKey(name, a.owned[0]!.payload.idInLbs);
    await waitUntil(async () => (await t.admin.get(entryKeysOf(lock).committed)) === a.handled[0]!.id, 5000, 'the first commit');
    return { name, a, lock };
  };

  it('raises the fence when a sweep takes back a stream this consumer dropped while Redis still held the lock for it: a new take', async () => {
    const { name, a, lock } = await committedOnce();
    // Its heartbeat finds the lock held by another and drops the stream; then the lock reads as
    // its own again (as after a re-take whose reply was lost), its LBS entry still pending for it.
    await t.admin.set(lock, 'redis-consumer-other', 'PX', 20 * hbInterval);
    await waitUntil(() => a.outcomes.length === 1, 5000, 'the stream dropped');
    expect(a.outcomes[0]!.type).to.equal('Abandoned');
    await t.admin.set(lock, 'redis-consumer-a', 'PX', 20 * hbInterval);
    await waitUntil(() => a.owned.length === 2, 10 * hbInterval, 'the stream taken again');
    expect(a.owned.map((n) => n.payload.fence)).to.deep.equal([1, 2]);
    expect(await t.admin.get(entryKeysOf(lock).fence)).to.equal('2');
    const [second] = await fill(name, 1, 1);
    await waitUntil(() => a.handled.some((h) => h.id === second), 5000, 'the next entry');
    expect(a.handled.find((h) => h.id === second)!.fence).to.equal(2);
  });

  it('raises the fence when the heartbeat re-takes a lock that vanished, and the handler sees it', async () => {
    const { name, a, lock } = await committedOnce();
    await t.admin.del(lock);
    await waitUntil(async () => (await t.admin.get(lock)) === 'redis-consumer-a', hbInterval * 4, 'the re-take');
    expect(await t.admin.get(entryKeysOf(lock).fence)).to.equal('2');
    const [second] = await fill(name, 1, 1);
    await waitUntil(() => a.handled.length === 2, 15_000, 'a second entry');
    await sleep(hbInterval);
    expect(a.handled.map((h) => [h.id, h.fence])).to.deep.equal([
      [a.handled[0]!.id, 1],
      [second, 2],
    ]);
    expect(a.outcomes).to.deep.equal([]);
  });

  it('finishes a stream whose `until` entry its previous owner committed before it died, without handling anything again', async () => {
    const name = streamName(t.service, 1);
    const ids = [...(await fill(name, 2)), await end(name)];
    // The first owner knows no `until`: it commits the end entry as any other and waits, the state an
    // owner that died between that commit and doneStream leaves behind; then it stops without a word.
    const first = consuming('first');
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    await waitUntil(() => first.handled.length === 3, 5000, 'the three entries');
    const lock = lockKey(name, first.owned[0]!.payload.idInLbs);
    await waitUntil(async () => (await t.admin.get(entryKeysOf(lock).committed)) === ids[2], 5000, 'the end entry committed');
    const next = consuming('next', { until: (e) => e.fields.end === '1' });
    await sleep(hbInterval);
    first.stop();
    first.c.stop();
    await waitUntil(() => next.outcomes.length === 1, 10_000, () => `the next owner to finish the stream (it owns ${next.owned.length}, handled ${next.handled.length})`);
    expect(next.outcomes[0]!.type).to.equal('Processed');
    expect(next.handled, 'entries handled again').to.deep.equal([]);
    expect(await t.admin.xlen(`${t.service}-input`), 'LBS entries left').to.equal(0);
  });

  it('releases an idle consumed stream at once (its work stops and flushes without waiting)', async () => {
    const name = streamName(t.service, 1);
    await fill(name, 3);
    const a = consuming('a', {}, slow(1));
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name }));
    await waitUntil(() => a.handled.length === 3, 5000, 'three entries');
    await sleep(hbInterval);
    const started = Date.now();
    await lastValueFrom(a.client.release(name), { defaultValue: undefined });
    expect(Date.now() - started, 'ms to release').to.be.lessThan(hbInterval / 2);
    const lock = lockKey(name, a.owned[0]!.payload.idInLbs);
    expect(await t.admin.get(entryKeysOf(lock).committed)).to.equal(a.handled[2]!.id);
    await waitUntil(() => a.outcomes.length === 1, 2000, 'an outcome');
    expect(a.outcomes[0]!.type).to.equal('Abandoned');
  });

  it('errors at once for a stream this client does not own', async () => {
    const client = new RedisStreamClient(t.connect(), t.service, { consumerId: 'x' });
    const err = await lastValueFrom(consumeStream(client, { payload: { dataStreamName: 'nope', idInLbs: '1-0' }, additionalInfo: {} }, () => of(0))).catch((e: unknown) => e);
    expect((err as { code?: string }).code).to.equal('STREAM_NOT_FOUND');
    expect(NotOwnerError).to.be.a('function');
  });
});
