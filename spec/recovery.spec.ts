import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { addStream } from '../lib';
import { hasRedisServer } from '../support/redis-server';
import { createGroup, lbsKeyOf, lockKeyIn, onCluster, pendingRows, readAsCrashedConsumer, sleep, streamName, useService } from '../support/service';

describe('recovery of LBS entries nobody holds', () => {
  const opts = { hbInterval: 200, lbsIdleTime: 400 };
  const t = useService('recovery', { group: true, defaults: opts });

  const addStreams = async (n: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i), info: { i } })));
    return ids;
  };

  it('recovers at start-up the entries of a consumer that crashed before taking their locks', async () => {
    await addStreams(3);
    expect(await readAsCrashedConsumer(t.admin, t.service, 'redis-consumer-crashed', 10)).to.have.length(3);
    await sleep(opts.lbsIdleTime + 50);
    const c = t.consumer('survivor');
    await c.waitFor('StreamAdded', 3);
    expect(c.of('StreamAdded').map((n) => n.additionalInfo)).to.have.deep.members([{ i: 0 }, { i: 1 }, { i: 2 }]);
    const pending = await pendingRows(t.admin, t.service, 10);
    expect(pending.map(([, owner]) => owner)).to.deep.equal(Array(3).fill(c.client.id));
  });

  it('recovers non-contiguous pending entries (some in between were already done)', async () => {
    const ids = await addStreams(6);
    await readAsCrashedConsumer(t.admin, t.service, 'redis-consumer-crashed', 10);
    for (const i of [1, 3]) {
      await t.admin.xack(lbsKeyOf(t.service, streamName(t.service, i)), `${t.service}-group`, ids[i]!);
      await t.admin.xdel(lbsKeyOf(t.service, streamName(t.service, i)), ids[i]!);
    }
    await sleep(opts.lbsIdleTime + 50);
    const c = t.consumer('survivor');
    await c.waitFor('StreamAdded', 4);
    await sleep(100);
    expect(c.of('StreamAdded').map((n) => n.payload.idInLbs).sort()).to.deep.equal([ids[0], ids[2], ids[4], ids[5]].sort());
  });

  it('follows the pending-list cursor past one page (lbsRecoveryCount smaller than the backlog)', async () => {
    await addStreams(7);
    await readAsCrashedConsumer(t.admin, t.service, 'redis-consumer-crashed', 10);
    await sleep(opts.lbsIdleTime + 50);
    const c = t.consumer('survivor', { lbsRecoveryCount: 2 });
    await c.waitFor('StreamAdded', 7);
  });

  it('acknowledges pending entries whose LBS entry was deleted, and hands out nothing for them', async () => {
    const ids = await addStreams(2);
    await readAsCrashedConsumer(t.admin, t.service, 'redis-consumer-crashed', 10);
    await t.admin.xdel(lbsKeyOf(t.service, streamName(t.service, 0)), ids[0]!);
    await sleep(opts.lbsIdleTime + 50);
    const c = t.consumer('survivor');
    await c.waitFor('StreamAdded', 1);
    await sleep(200);
    expect(c.of('StreamAdded').map((n) => n.payload.idInLbs)).to.deep.equal([ids[1]]);
    const pending = await pendingRows(t.admin, t.service, 10);
    expect(pending.map(([id]) => id)).to.deep.equal([ids[1]]);
  });

  it('never takes a stream whose owner is alive, although its entry is idle in the pending list', async () => {
    const owner = t.consumer('owner');
    await sleep(100);
    const ids = await addStreams(3);
    await owner.waitFor('StreamAdded', 3);
    await sleep(opts.lbsIdleTime * 3);
    const other = t.consumer('other');
    await sleep(opts.lbsIdleTime * 3);
    expect(other.of('StreamAdded')).to.have.length(0);
    for (const n of owner.of('StreamAdded')) {
      expect(await t.admin.get(lockKeyIn(t.service, n.payload.dataStreamName, n.payload.idInLbs))).to.equal(owner.client.id);
    }
    expect(owner.of('StreamDisowned')).to.have.length(0);
    expect(ids).to.have.length(3);
  });

  it('keeps serving new streams when start-up recovery fails (XRANGE disabled on the server)', async function () {
    if (!hasRedisServer() || onCluster()) this.skip();
    await t.privateServer(['--rename-command', 'XRANGE', '']);
    // An orphaned entry, so that the sweep has an entry to read (and fails reading it).
    await createGroup(t.admin, t.service);
    await t.admin.xadd(`${t.service}-input`, '*', 'lbs-input', JSON.stringify({ DataStreamName: 'orphan' }));
    await readAsCrashedConsumer(t.admin, t.service, 'redis-consumer-crashed', 1);
    await sleep(opts.lbsIdleTime + 50);
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_: object, msg?: string) => void warnings.push(msg ?? '') };
    const c = t.consumer('survivor', { logger });
    await sleep(300);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: 'after-failed-recovery' }));
    await c.waitFor('StreamAdded', 1);
    expect(c.of('StreamAdded').map((n) => n.payload.dataStreamName)).to.deep.equal(['after-failed-recovery']);
    expect(c.error).to.equal(undefined);
    expect(warnings.some((w) => w.includes('recovery sweep failed'))).to.equal(true);
  });
});
