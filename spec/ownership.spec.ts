import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { AlreadyClaimedError, NotOwnerError, StreamNotFoundError, addStream, groupName } from '../lib';
import type { LbsInfo } from '../lib';
import type { Consumer } from '../support/service';
import { layoutOf, lbsKeyOf, lbsLength, scriptCalls, lockKeyIn, pendingRows, readAsCrashedConsumer, sleep, streamName, useService, waitUntil } from '../support/service';

describe('claim, heartbeat and done', () => {
  const hbInterval = 300;
  const t = useService('own', { group: true, start: false, defaults: { hbInterval, lbsIdleTime: 60_000 } });

  const outcome = <T>(p: Promise<T>): Promise<T | Error> => p.catch((e: Error) => e);

  /** An entry delivered to a consumer that crashed before locking it, delivered long enough ago to be claimed. */
  const orphan = async (name: string, info: Record<string, unknown> = {}): Promise<LbsInfo> => {
    const idInLbs = await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: name, info }));
    await readAsCrashedConsumer(t.admin, t.service, 'redis-consumer-crashed', 1);
    await sleep(hbInterval + 50);
    return { dataStreamName: name, idInLbs };
  };

  /** Adds one stream and waits until `c` (started) is handed it; its payload. */
  const handOne = async (c: Consumer, info: Record<string, unknown> = {}): Promise<LbsInfo> => {
    await sleep(100);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 1), info }));
    await c.waitFor('StreamAdded', 1);
    return c.of('StreamAdded')[0]!.payload;
  };

  describe('claim()', () => {
    it('lets exactly one of several racing consumers claim a stream, and returns its Info', async () => {
      const info = await orphan(streamName(t.service, 1), { priority: 'high' });
      const racers = [t.consumer('a'), t.consumer('b'), t.consumer('c'), t.consumer('d')];
      const results = await Promise.all(racers.map((c) => outcome(lastValueFrom(c.client.claim(info)))));
      const winners = results.filter((r) => !(r instanceof Error));
      expect(winners).to.have.length(1);
      expect(winners[0]).to.deep.equal({ payload: { ...info, fence: 1 }, additionalInfo: { priority: 'high' } });
      const losers = results.filter((r): r is AlreadyClaimedError => r instanceof Error);
      expect(losers).to.have.length(3);
      losers.forEach((e) => expect(e).to.be.instanceOf(AlreadyClaimedError).with.property('code', 'ALREADY_CLAIMED'));
      const winner = racers[results.findIndex((r) => !(r instanceof Error))]!;
      expect(await t.admin.get(lockKeyIn(t.service, info.dataStreamName, info.idInLbs))).to.equal(winner.client.id);
      const [[, owner]] = await pendingRows(t.admin, t.service, 1);
      expect(owner).to.equal(winner.client.id);
    });

    it('claims asked for in the same tick share one script call, each with its own outcome', async () => {
      const infos: LbsInfo[] = [];
      for (let i = 0; i < 20; i++) {
        const idInLbs = await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i), info: { i } }));
        infos.push({ dataStreamName: streamName(t.service, i), idInLbs });
      }
      await readAsCrashedConsumer(t.admin, t.service, 'redis-consumer-crashed', 20);
      await sleep(hbInterval + 50);
      const held = infos[3]!;
      await t.admin.set(lockKeyIn(t.service, held.dataStreamName, held.idInLbs), 'redis-consumer-other', 'PX', 60_000);
      const c = t.consumer('a');
      const before = await scriptCalls(t.admin);
      const results = await Promise.all(infos.map((info) => outcome(lastValueFrom(c.client.claim(info)))));
      // One call per LBS partition (the claims of one partition share a call), and the INFO itself.
      expect((await scriptCalls(t.admin)) - before, 'script calls for 20 claims').to.be.at.most(layoutOf(t.service).partitions + 1);
      expect(results[3]).to.be.instanceOf(AlreadyClaimedError);
      const won = results.filter((r): r is Exclude<typeof r, Error> => !(r instanceof Error));
      expect(won.map((r) => r.additionalInfo)).to.deep.equal(infos.flatMap((_, i) => (i === 3 ? [] : [{ i }])));
      for (const info of infos.filter((_, i) => i !== 3)) expect(await t.admin.get(lockKeyIn(t.service, info.dataStreamName, info.idInLbs))).to.equal(c.client.id);
    });

    it('refuses a stream whose lock another consumer holds', async () => {
      const info = await orphan(streamName(t.service, 1));
      await t.admin.set(lockKeyIn(t.service, info.dataStreamName, info.idInLbs), 'redis-consumer-alive', 'PX', 10_000);
      const err = await outcome(lastValueFrom(t.consumer('a').client.claim(info)));
      expect(err).to.be.instanceOf(AlreadyClaimedError);
      expect(await t.admin.get(lockKeyIn(t.service, info.dataStreamName, info.idInLbs))).to.equal('redis-consumer-alive');
    });

    it('keeps a claimed stream alive with the heartbeat', async () => {
      const info = await orphan(streamName(t.service, 1));
      const c = t.consumer('a').start();
      await lastValueFrom(c.client.claim(info));
      await sleep(hbInterval * 4);
      expect(await t.admin.get(lockKeyIn(t.service, info.dataStreamName, info.idInLbs))).to.equal(c.client.id);
      expect(await t.admin.pttl(lockKeyIn(t.service, info.dataStreamName, info.idInLbs))).to.be.greaterThan(0);
    });
  });

  describe('heartbeat', () => {
    it('re-takes a lock that vanished, and keeps the stream', async () => {
      const c = t.consumer('a').start();
      const payload = await handOne(c);
      const key = lockKeyIn(t.service, payload.dataStreamName, payload.idInLbs);
      await t.admin.del(key);
      await waitUntil(async () => (await t.admin.get(key)) === c.client.id, hbInterval * 3, 'the lock to be re-taken');
      expect(c.of('StreamDisowned')).to.have.length(0);
    });

    it('tells the owner with StreamDisowned when another consumer holds its lock, and forgets the stream', async () => {
      const c = t.consumer('a').start();
      const payload = await handOne(c, { k: 1 });
      await t.admin.set(lockKeyIn(t.service, payload.dataStreamName, payload.idInLbs), 'redis-consumer-thief', 'PX', 10_000);
      await c.waitFor('StreamDisowned', 1, hbInterval * 4);
      expect(c.of('StreamDisowned')[0]).to.deep.equal({ type: 'StreamDisowned', payload: { dataStreamName: payload.dataStreamName, idInLbs: payload.idInLbs }, additionalInfo: { k: 1 } });
      const err = await outcome(lastValueFrom(c.client.doneStream(payload.dataStreamName)));
      expect(err).to.be.instanceOf(StreamNotFoundError);
      expect(await lbsLength(t.admin, t.service)).to.equal(1);
    });
  });

  describe('heartbeat after a stream was taken over and finished elsewhere', () => {
    it('reports StreamDisowned instead of re-taking the vanished lock, and doneStream acknowledges nothing', async () => {
      const c = t.consumer('a', { hbInterval: 2000, lbsIdleTime: 60_000 }).start();
      const payload = await handOne(c);
      const key = lockKeyIn(t.service, payload.dataStreamName, payload.idInLbs);
      // What another consumer does while this one is paused: its lock expired, it claims and finishes the stream.
      await t.admin.del(key);
      await t.admin.xclaim(lbsKeyOf(t.service, payload.dataStreamName), groupName(t.service), 'redis-consumer-b', 0, payload.idInLbs);
      await t.admin.xack(lbsKeyOf(t.service, payload.dataStreamName), groupName(t.service), payload.idInLbs);
      await c.waitFor('StreamDisowned', 1, 3000);
      expect(await t.admin.exists(key)).to.equal(0);
      const err = await outcome(lastValueFrom(c.client.doneStream(payload.dataStreamName)));
      expect(err).to.be.instanceOf(StreamNotFoundError);
    });

    it('doneStream refuses (NOT_OWNER) an entry another consumer took over, even with no lock left', async () => {
      const c = t.consumer('a', { hbInterval: 5000, lbsIdleTime: 60_000 }).start();
      const payload = await handOne(c);
      await t.admin.del(lockKeyIn(t.service, payload.dataStreamName, payload.idInLbs));
      await t.admin.xclaim(lbsKeyOf(t.service, payload.dataStreamName), groupName(t.service), 'redis-consumer-b', 0, payload.idInLbs);
      const err = await outcome(lastValueFrom(c.client.doneStream(payload.dataStreamName)));
      expect(err).to.be.instanceOf(NotOwnerError).with.property('owner', 'redis-consumer-b');
      const [[, owner]] = await pendingRows(t.admin, t.service, 1);
      expect(owner).to.equal('redis-consumer-b');
      expect(await lbsLength(t.admin, t.service)).to.equal(1);
    });
  });

  describe('doneStream() and done()', () => {
    it('releases the lock, acknowledges and deletes the entry of one stream', async () => {
      const c = t.consumer('a').start();
      const payload = await handOne(c);
      await lastValueFrom(c.client.doneStream(payload.dataStreamName), { defaultValue: undefined });
      expect(await t.admin.exists(lockKeyIn(t.service, payload.dataStreamName, payload.idInLbs))).to.equal(0);
      expect(await lbsLength(t.admin, t.service)).to.equal(0);
      expect(await pendingRows(t.admin, t.service, 10)).to.deep.equal([]);
    });

    it('finishes several streams, leaving the others owned', async () => {
      const c = t.consumer('a').start();
      await sleep(100);
      for (let i = 0; i < 5; i++) await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i) }));
      await c.waitFor('StreamAdded', 5);
      for (const i of [0, 2, 4]) await lastValueFrom(c.client.doneStream(streamName(t.service, i)), { defaultValue: undefined });
      expect(await lbsLength(t.admin, t.service)).to.equal(2);
      const pending = await pendingRows(t.admin, t.service, 10);
      expect(pending).to.have.length(2);
      await sleep(hbInterval * 2);
      const left = c.of('StreamAdded').filter((n) => [1, 3].some((i) => n.payload.dataStreamName === streamName(t.service, i)));
      for (const n of left) expect(await t.admin.get(lockKeyIn(t.service, n.payload.dataStreamName, n.payload.idInLbs))).to.equal(c.client.id);
    });

    it('finishes streams asked for in the same tick in one script call, each with its own outcome', async () => {
      // A slow heartbeat: a tick every 150 ms would find the moved lock before doneStream does
      // (reading the script counts of three Cluster primaries can take longer), and drop the stream.
      const c = t.consumer('a', { readCount: 100, hbInterval: 5000 }).start();
      await sleep(100);
      for (let i = 0; i < 60; i++) await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i) }));
      await c.waitFor('StreamAdded', 60);
      const taken = c.of('StreamAdded')[7]!.payload;
      await t.admin.set(lockKeyIn(t.service, taken.dataStreamName, taken.idInLbs), 'redis-consumer-new-owner');
      const calls = (): Promise<number> => scriptCalls(t.admin);
      const before = await calls();
      const outcomes = await Promise.all(
        c.of('StreamAdded').map((n) => outcome(lastValueFrom(c.client.doneStream(n.payload.dataStreamName)).then(() => 'done'))),
      );
      const finishCalls = (await calls()) - before;
      // One finish call per LBS partition; a heartbeat tick or a reaper turn (per partition) may fall in the same window.
      expect(finishCalls, 'script calls for 60 doneStream').to.be.at.most(3 * layoutOf(t.service).partitions);
      expect(outcomes.filter((o) => o === 'done')).to.have.length(59);
      expect(outcomes[7]).to.be.instanceOf(NotOwnerError);
      expect(await lbsLength(t.admin, t.service)).to.equal(1);
      expect(await t.admin.get(lockKeyIn(t.service, taken.dataStreamName, taken.idInLbs))).to.equal('redis-consumer-new-owner');
    });

    it('fails with STREAM_NOT_FOUND for a stream this consumer does not own', async () => {
      const err = await outcome(lastValueFrom(t.consumer('a').client.doneStream('never-seen')));
      expect(err).to.be.instanceOf(StreamNotFoundError).with.property('code', 'STREAM_NOT_FOUND');
    });

    it('never acknowledges an entry whose lock another consumer took: NOT_OWNER, entry left pending', async () => {
      const c = t.consumer('a', { hbInterval: 5000, lbsIdleTime: 60_000 }).start();
      const payload = await handOne(c);
      await t.admin.set(lockKeyIn(t.service, payload.dataStreamName, payload.idInLbs), 'redis-consumer-new-owner');
      const err = await outcome(lastValueFrom(c.client.doneStream(payload.dataStreamName)));
      expect(err).to.be.instanceOf(NotOwnerError).with.property('code', 'NOT_OWNER');
      expect(await lbsLength(t.admin, t.service)).to.equal(1);
      expect(await t.admin.get(lockKeyIn(t.service, payload.dataStreamName, payload.idInLbs))).to.equal('redis-consumer-new-owner');
    });

    it('done() finishes every owned stream and completes the notification stream', async () => {
      const c = t.consumer('a').start();
      await sleep(100);
      for (let i = 0; i < 3; i++) await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i) }));
      await c.waitFor('StreamAdded', 3);
      await lastValueFrom(c.client.done(), { defaultValue: undefined });
      await waitUntil(() => c.completed, 2000, 'notifications$ to complete');
      expect(await lbsLength(t.admin, t.service)).to.equal(0);
      expect(await pendingRows(t.admin, t.service, 10)).to.deep.equal([]);
      const err = await outcome(lastValueFrom(c.client.init()));
      expect(err).to.have.property('code', 'CLIENT_CLOSED');
      expect((err as Error).message).to.contain('stopped with done()');
    });
  });
});
