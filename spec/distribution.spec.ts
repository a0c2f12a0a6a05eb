import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { LBS_FIELD, addStream } from '../lib';
import { lbsEntriesOf, lbsLength, lockKeyIn, sleep, streamName, useService } from '../support/service';

describe('hand-out of new streams', () => {
  const t = useService('dist', { defaults: { hbInterval: 1000, lbsIdleTime: 10_000 } });

  it('hands each stream to exactly one consumer, spread round-robin, with its Info echoed and its lock taken', async () => {
    const fleet = [t.consumer('a'), t.consumer('b'), t.consumer('c')];
    await sleep(300);
    for (let i = 0; i < 9; i++) {
      await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i), info: { n: i, tags: ['x'] } }));
      await sleep(30);
    }
    await fleet[0]!.waitFor('StreamAdded', 1);
    const all = () => fleet.flatMap((c) => c.of('StreamAdded'));
    while (all().length < 9) await sleep(20);
    const added = all();
    expect(added.map((n) => n.payload.dataStreamName).sort()).to.deep.equal([...Array(9).keys()].map((i) => streamName(t.service, i)).sort());
    for (const c of fleet) expect(c.of('StreamAdded').length, `${c.client.id} got a share`).to.be.greaterThan(0);
    for (const n of added) {
      expect(n.additionalInfo).to.deep.equal({ n: Number(n.payload.dataStreamName.split('stream-')[1]), tags: ['x'] });
      const owner = fleet.find((c) => c.of('StreamAdded').includes(n))!;
      expect(await t.admin.get(lockKeyIn(t.service, n.payload.dataStreamName, n.payload.idInLbs))).to.equal(owner.client.id);
    }
  });

  it('delivers a stream added while the reader is blocked, without waiting for the block to time out', async () => {
    const c = t.consumer('blocked', { hbInterval: 2000 });
    await sleep(2500);
    const sent = Date.now();
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 'late') }));
    await c.waitFor('StreamAdded', 1);
    expect(Date.now() - sent).to.be.lessThan(1500);
    expect(c.of('StreamAdded')[0]!.additionalInfo).to.deep.equal({});
  });

  it('hands out streams a producer added before any consumer existed', async () => {
    for (let i = 0; i < 3; i++) await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i) }));
    const c = t.consumer('late');
    await c.waitFor('StreamAdded', 3);
  });

  it('writes LBS entries in the Go wire format', async () => {
    const id = await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: 'wire', info: { user_id: 'u1' } }));
    const [[entryId, fields]] = (await lbsEntriesOf(t.admin, t.service)) as [string, string[]][];
    expect(entryId).to.equal(id);
    expect(fields[0]).to.equal(LBS_FIELD);
    expect(JSON.parse(fields[1]!)).to.deep.equal({ DataStreamName: 'wire', Info: { user_id: 'u1' } });
  });

  it('refuses invalid producer input with INVALID_INPUT and writes nothing', async () => {
    for (const input of [{ dataStreamName: '' }, { dataStreamName: 'a<MUTEX_KEY_SEP>b' }, { dataStreamName: 'x', info: [1] as unknown as Record<string, unknown> }]) {
      const err = await lastValueFrom(addStream(t.admin, t.service, input)).then(
        () => undefined,
        (e: { code?: string }) => e,
      );
      expect(err?.code, JSON.stringify(input)).to.equal('INVALID_INPUT');
    }
    expect(await lbsLength(t.admin, t.service)).to.equal(0);
  });
});
