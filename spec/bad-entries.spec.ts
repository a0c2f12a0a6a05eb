import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { addStream } from '../lib';
import type { Logger, MetricsRecorder } from '../lib';
import type { Consumer } from '../support/service';
import { addRaw, deadLettersOf, lbsEntriesOf, pendingRows, readAsCrashedConsumer, sleep, streamName, useService, waitUntil } from '../support/service';

describe('bad LBS entries', () => {
  const t = useService('bad');
  let c: Consumer;
  const warnings: string[] = [];
  const deadLetters: string[] = [];
  const logger: Logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_o, msg) => void warnings.push(msg ?? '') };
  const metrics: MetricsRecorder = { recordDeadLetter: (reason) => void deadLetters.push(reason) };

  beforeEach(async () => {
    warnings.length = 0;
    deadLetters.length = 0;
    c = t.consumer('a', { hbInterval: 500, maxEntryBytes: 4096, logger, metrics });
    await sleep(200);
  });

  const cases: [string, string[], RegExp][] = [
    ['a value that is not JSON', ['lbs-input', '{not json'], /not JSON/],
    ['a wrong field name', ['payload', '{"DataStreamName":"x"}'], /expected the field "lbs-input", got \[payload\]/],
    ['a missing DataStreamName', ['lbs-input', '{"Info":{}}'], /DataStreamName/],
    ['a DataStreamName that is not a string', ['lbs-input', '{"DataStreamName":42}'], /DataStreamName/],
    ['an Info that is not an object', ['lbs-input', '{"DataStreamName":"x","Info":[1,2]}'], /Info/],
    ['an oversized entry', ['lbs-input', JSON.stringify({ DataStreamName: 'big', Info: { blob: 'x'.repeat(5000) } })], /oversized/],
    ['a name holding the lock-key separator', ['lbs-input', '{"DataStreamName":"a<MUTEX_KEY_SEP>b"}'], /separator/],
  ];

  for (const [what, fields, reason] of cases) {
    it(`dead-letters ${what} with its reason, and serves the next stream`, async () => {
      const badId = await addRaw(t.admin, t.service, ...fields);
      await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 'good'), info: { ok: true } }));
      await c.waitFor('StreamAdded', 1);
      expect(c.of('StreamAdded')[0]!.additionalInfo).to.deep.equal({ ok: true });
      expect(c.error).to.equal(undefined);
      const dead = (await deadLettersOf(t.admin, t.service)) as [string, string[]][];
      expect(dead).to.have.length(1);
      const record = Object.fromEntries(dead[0]![1].reduce<[string, string][]>((acc, v, i, all) => (i % 2 === 0 ? [...acc, [v, all[i + 1]!]] : acc), []));
      expect(record['source-id']).to.equal(badId);
      expect(record.reason).to.match(reason);
      expect(record.consumer).to.equal('redis-consumer-a');
      expect(record[fields[0]!]).to.equal(fields[1]);
      const lbs = (await lbsEntriesOf(t.admin, t.service)) as [string, string[]][];
      expect(lbs.map(([id]) => id)).not.to.include(badId);
      const pending = await pendingRows(t.admin, t.service, 10);
      expect(pending.map(([id]) => id)).not.to.include(badId);
      expect(deadLetters).to.have.length(1);
      expect(warnings).to.include('invalid LBS entry moved to the dead-letter stream');
    });
  }

  it('dead-letters the second of two entries for one data stream handed out in the same read', async () => {
    const late = t.anotherService('bad-batch');
    const name = streamName(late, 'twice');
    const first = await lastValueFrom(addStream(t.admin, late, { dataStreamName: name }));
    const second = await lastValueFrom(addStream(t.admin, late, { dataStreamName: name }));
    await lastValueFrom(addStream(t.admin, late, { dataStreamName: streamName(late, 'other') }));
    const reader = t.consumer('batch', { hbInterval: 500, readCount: 10 }, { service: late });
    await reader.waitFor('StreamAdded', 2);
    await waitUntil(async () => (await deadLettersOf(t.admin, late)).length === 1, 3000, 'the duplicate dead-lettered');
    const [[, fields]] = (await deadLettersOf(t.admin, late)) as [string, string[]][];
    expect(fields.slice(0, 4)).to.deep.equal(['source-id', second, 'reason', `duplicate: data stream "${name}" is already handled by LBS entry ${first}`]);
    await sleep(200);
    // By name and id: on a Cluster the other stream's entry sits in another partition's LBS, where
    // it can get the very id the second entry got in this one (same millisecond).
    const handed = reader.of('StreamAdded').map((n) => `${n.payload.dataStreamName} ${n.payload.idInLbs}`);
    expect(handed).to.have.length(2);
    expect(handed).to.include(`${name} ${first}`);
    expect(handed).not.to.include(`${name} ${second}`);
  });

  it('gives a data stream one owner at a time: a second entry for it is dead-lettered while the first is unfinished', async () => {
    const other = t.consumer('b', { hbInterval: 500 });
    await sleep(200);
    const first = await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 'twice') }));
    await waitUntil(() => c.of('StreamAdded').length + other.of('StreamAdded').length === 1, 3000, 'the first entry handed out');
    const second = await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 'twice') }));
    await waitUntil(async () => (await deadLettersOf(t.admin, t.service)).length === 1, 3000, 'the duplicate dead-lettered');
    const [[, fields]] = (await deadLettersOf(t.admin, t.service)) as [string, string[]][];
    expect(fields.slice(0, 4)).to.deep.equal(['source-id', second, 'reason', `duplicate: data stream "${streamName(t.service, 'twice')}" is already handled by LBS entry ${first}`]);
    expect(c.of('StreamAdded').length + other.of('StreamAdded').length).to.equal(1);
    const holder = c.of('StreamAdded').length === 1 ? c : other;
    await lastValueFrom(holder.client.doneStream(streamName(t.service, 'twice')), { defaultValue: undefined });
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 'twice') }));
    await waitUntil(() => c.of('StreamAdded').length + other.of('StreamAdded').length === 2, 3000, 'the stream handed out again once finished');
  });

  it('takes no second entry of a data stream from a crashed reader while the first is unfinished: the reconciler leaves it until the first is done', async () => {
    const other = t.anotherService('bad-orphan');
    const name = streamName(other, 'twice');
    // `a` holds the first entry and, at its maxStreams, reads no more of the LBS.
    const a = t.consumer('oa', { hbInterval: 500, maxStreams: 1 }, { service: other });
    const first = await lastValueFrom(addStream(t.admin, other, { dataStreamName: name }));
    await a.waitFor('StreamAdded', 1);
    // A second entry for the same data stream, read by a consumer that crashed before it took the lock.
    const second = await lastValueFrom(addStream(t.admin, other, { dataStreamName: name }));
    expect(await readAsCrashedConsumer(t.admin, other, 'redis-consumer-crashed', 1)).to.deep.equal([second]);
    const b = t.consumer('ob', { hbInterval: 500 }, { service: other });
    // The reconciler of `b` finds the second entry pending and lockless at every turn (one hbInterval).
    await sleep(3000);
    expect(b.of('StreamAdded').map((n) => n.payload.idInLbs), 'taken while the first is unfinished').to.deep.equal([]);
    expect(a.of('StreamAdded').map((n) => n.payload.idInLbs)).to.deep.equal([first]);
    await lastValueFrom(a.client.doneStream(name), { defaultValue: undefined });
    const takes = () => [...a.of('StreamAdded'), ...b.of('StreamAdded')].map((n) => n.payload.idInLbs);
    await waitUntil(() => takes().length === 2, 5000, 'the second entry taken once the first is done');
    await sleep(1000);
    expect(takes()).to.deep.equal([first, second]);
  });

  it('keeps every good entry of a batch that also holds bad ones', async () => {
    // Sent back to back on one connection: the reader finds them in one or a few batches.
    await Promise.all([...Array(20).keys()].map((i) => addRaw(t.admin, t.service, 'lbs-input', i % 3 === 0 ? 'garbage' : JSON.stringify({ DataStreamName: streamName(t.service, i) }))));
    await c.waitFor('StreamAdded', 13);
    await sleep(200);
    expect(c.of('StreamAdded')).to.have.length(13);
    expect(await deadLettersOf(t.admin, t.service)).to.have.length(7);
  });
});
