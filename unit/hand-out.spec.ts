import { expect } from 'chai';
import type { LbsEntry, RawEntry } from '../lib/codecs/lbs-message';
import { sortTakes } from '../lib/rules/hand-out';

const entry = (name: string, id: string): LbsEntry => ({ payload: { dataStreamName: name, idInLbs: id }, additionalInfo: {} });
const raw = (id: string): RawEntry => ({ id, fields: ['lbs-input', `{"DataStreamName":"x${id}"}`] });

describe('sortTakes (what the hand-out does with each entry once the lock script answered)', () => {
  it('announces the taken entries, dead-letters duplicates with the entry in charge, and leaves the others', () => {
    const good = [entry('a', '1-0'), entry('b', '2-0'), entry('c', '3-0'), entry('d', '4-0')];
    const batch = ['0-9', '1-0', '2-0', '3-0', '4-0'].map(raw);
    const sorted = sortTakes(good, [{ kind: 'taken', fence: 1 }, { kind: 'duplicate', of: '0-5' }, { kind: 'held' }, { kind: 'not-pending' }], batch);
    expect(sorted.taken).to.deep.equal([good[0]]);
    expect(sorted.duplicates).to.deep.equal([{ entry: batch[2], reason: 'duplicate: data stream "b" is already handled by LBS entry 0-5' }]);
    expect(sorted.refused).to.deep.equal([good[2], good[3]]);
  });
});
