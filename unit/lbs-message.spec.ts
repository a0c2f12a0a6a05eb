import { expect } from 'chai';
import * as E from 'fp-ts/Either';
import { BadEntry, LbsEntry, RawEntry, decodeLbsEntry, encodeLbsMessage, partitionEntries } from '../lib/codecs/lbs-message';
import { LBS_FIELD, MUTEX_KEY_SEP } from '../lib/keys';

const MAX = 1024;

/** An entry as XREADGROUP returns it, with `value` as the `lbs-input` field. */
const entry = (id: string, value: string): RawEntry => ({ id, fields: [LBS_FIELD, value] });

/** An entry with the JSON of `message` as its `lbs-input` field. */
const jsonEntry = (id: string, message: unknown): RawEntry => entry(id, JSON.stringify(message));

const decodeRight = (raw: RawEntry, maxEntryBytes = MAX): LbsEntry => {
  const decoded = decodeLbsEntry(raw, maxEntryBytes);
  if (E.isLeft(decoded)) throw new Error(`expected ${raw.id} to decode, but it was refused: ${decoded.left.reason}`);
  return decoded.right;
};

const decodeLeft = (raw: RawEntry, maxEntryBytes = MAX): BadEntry => {
  const decoded = decodeLbsEntry(raw, maxEntryBytes);
  if (E.isRight(decoded)) throw new Error(`expected ${raw.id} to be refused, but it decoded to ${JSON.stringify(decoded.right)}`);
  return decoded.left;
};

describe('decodeLbsEntry', () => {
  describe('accepts', () => {
    it('a well-formed entry: the stream name with the entry id, and Info echoed as is', () => {
      const info = { tenant: 'acme', priority: 3, tags: ['a', 'b'], nested: { ok: true } };
      expect(decodeRight(jsonEntry('1700000000000-0', { DataStreamName: 'orders', Info: info }))).to.deep.equal({
        payload: { dataStreamName: 'orders', idInLbs: '1700000000000-0' },
        additionalInfo: info,
      });
    });

    it('what encodeLbsMessage writes (the round trip addStream relies on)', () => {
      const info = { region: 'eu' };
      expect(decodeRight(entry('5-1', encodeLbsMessage('invoices', info)))).to.deep.equal({
        payload: { dataStreamName: 'invoices', idInLbs: '5-1' },
        additionalInfo: info,
      });
    });

    it('an entry without Info, with {} as its Info', () => {
      expect(decodeRight(jsonEntry('1-0', { DataStreamName: 'orders' })).additionalInfo).to.deep.equal({});
    });

    it('an entry with Info null (what Go writes for a nil map), with {} as its Info', () => {
      expect(decodeRight(jsonEntry('1-0', { DataStreamName: 'orders', Info: null })).additionalInfo).to.deep.equal({});
    });

    it('an entry with fields it does not know, ignoring them', () => {
      expect(decodeRight(jsonEntry('1-0', { DataStreamName: 'orders', Info: { a: 1 }, Producer: 'go', Version: 2 }))).to.deep.equal({
        payload: { dataStreamName: 'orders', idInLbs: '1-0' },
        additionalInfo: { a: 1 },
      });
    });

    for (const name of ['orders*', 'orders?', 'orders[0]', 'a\\b', 'tenant{1}', '*?[]\\{}', 'commandes-été', '注文', '🚚-stream', ' spaced name ']) {
      it(`a stream name with glob characters or unicode, kept exactly: ${JSON.stringify(name)}`, () => {
        expect(decodeRight(jsonEntry('1-0', { DataStreamName: name })).payload.dataStreamName).to.equal(name);
      });
    }

    it('an entry of exactly maxEntryBytes bytes', () => {
      const value = encodeLbsMessage('s', {});
      expect(decodeRight(entry('1-0', value), Buffer.byteLength(value)).payload.dataStreamName).to.equal('s');
    });
  });

  describe('refuses, with a reason for the dead-letter stream', () => {
    it('a value that is not JSON', () => {
      const raw = entry('1-0', '{"DataStreamName": "orders"');
      expect(decodeLeft(raw)).to.deep.equal({ entry: raw, reason: 'not JSON' });
    });

    it('JSON that is not an object (null, an array, a string)', () => {
      for (const value of ['null', '["orders"]', '"orders"']) {
        const bad = decodeLeft(entry('1-0', value));
        expect(bad.reason, value).to.match(/DataStreamName/);
        expect(bad.entry.fields[1], value).to.equal(value);
      }
    });

    it('an entry without the lbs-input field, naming the fields it got', () => {
      const raw: RawEntry = { id: '1-0', fields: ['lbs-inputs', encodeLbsMessage('orders', {})] };
      expect(decodeLeft(raw)).to.deep.equal({ entry: raw, reason: 'expected the field "lbs-input", got [lbs-inputs]' });
    });

    it('an entry that has other fields beside lbs-input (a Go producer\'s _retry_count), reading lbs-input', () => {
      const raw: RawEntry = { id: '1-0', fields: ['_retry_count', '2', LBS_FIELD, encodeLbsMessage('orders', { a: 1 })] };
      const decoded = decodeLbsEntry(raw, 1024);
      expect(E.isRight(decoded) && decoded.right).to.deep.equal({ payload: { dataStreamName: 'orders', idInLbs: '1-0' }, additionalInfo: { a: 1 } });
    });

    it('an entry with no fields', () => {
      expect(decodeLeft({ id: '1-0', fields: [] }).reason).to.equal('expected the field "lbs-input", got []');
    });

    it('a message without DataStreamName', () => {
      expect(decodeLeft(jsonEntry('1-0', { Info: { a: 1 } })).reason).to.equal('DataStreamName must be NonEmptyString');
    });

    it('a message whose name field is spelt otherwise (dataStreamName)', () => {
      expect(decodeLeft(jsonEntry('1-0', { dataStreamName: 'orders' })).reason).to.equal('DataStreamName must be NonEmptyString');
    });

    it('a DataStreamName that is not a string', () => {
      for (const name of [42, true, null, ['orders'], { name: 'orders' }]) {
        expect(decodeLeft(jsonEntry('1-0', { DataStreamName: name })).reason, JSON.stringify(name)).to.equal('DataStreamName must be NonEmptyString');
      }
    });

    it('an empty DataStreamName', () => {
      expect(decodeLeft(jsonEntry('1-0', { DataStreamName: '' })).reason).to.equal('DataStreamName must be NonEmptyString');
    });

    it('an Info that is not an object (an array, a string, a number, a boolean)', () => {
      for (const info of [[1, 2], ['a'], 'tenant=acme', 42, false]) {
        const bad = decodeLeft(jsonEntry('1-0', { DataStreamName: 'orders', Info: info }));
        expect(bad.reason, JSON.stringify(info)).to.match(/^Info must be /);
        expect(bad.reason, JSON.stringify(info)).not.to.match(/DataStreamName/);
      }
    });

    it('a DataStreamName containing the lock-key separator, which would make its lock key ambiguous', () => {
      for (const name of [`a${MUTEX_KEY_SEP}b`, `${MUTEX_KEY_SEP}`, `orders${MUTEX_KEY_SEP}`, `${MUTEX_KEY_SEP}1-0`]) {
        expect(decodeLeft(jsonEntry('1-0', { DataStreamName: name })).reason, name).to.equal(
          'DataStreamName contains the lock-key separator <MUTEX_KEY_SEP>',
        );
      }
    });

    it('an entry over maxEntryBytes, before parsing it, giving its size', () => {
      const value = encodeLbsMessage('orders', { blob: 'x'.repeat(100) });
      const size = Buffer.byteLength(value);
      const raw = entry('1-0', value);
      expect(decodeLeft(raw, size - 1)).to.deep.equal({ entry: raw, reason: `oversized: ${size} bytes > maxEntryBytes ${size - 1}` });
      // even when the oversized value is not JSON: the size is checked first
      expect(decodeLeft(entry('1-0', 'x'.repeat(11)), 10).reason).to.equal('oversized: 11 bytes > maxEntryBytes 10');
    });

    it('an entry over maxEntryBytes counted in UTF-8 bytes, not in characters', () => {
      const value = encodeLbsMessage('注文', {});
      expect(value.length).to.be.lessThan(Buffer.byteLength(value));
      expect(decodeLeft(entry('1-0', value), value.length).reason).to.match(/^oversized: /);
      expect(decodeRight(entry('1-0', value), Buffer.byteLength(value)).payload.dataStreamName).to.equal('注文');
    });
  });
});

describe('partitionEntries', () => {
  const good1 = jsonEntry('1-0', { DataStreamName: 's1', Info: { n: 1 } });
  const bad1 = entry('2-0', 'not json');
  const good2 = jsonEntry('3-0', { DataStreamName: 's2' });
  const bad2 = jsonEntry('4-0', { DataStreamName: '' });
  const good3 = jsonEntry('5-0', { DataStreamName: 's3', Info: null });

  it('keeps decoding after a bad entry: good and bad entries each keep their order', () => {
    const { good, bad } = partitionEntries([good1, bad1, good2, bad2, good3], MAX);
    expect(good.map((e) => [e.payload.dataStreamName, e.payload.idInLbs])).to.deep.equal([
      ['s1', '1-0'],
      ['s2', '3-0'],
      ['s3', '5-0'],
    ]);
    expect(bad.map((b) => b.entry)).to.deep.equal([bad1, bad2]);
    expect(bad.map((b) => b.reason)).to.deep.equal(['not JSON', 'DataStreamName must be NonEmptyString']);
  });

  it('applies maxEntryBytes to each entry alone', () => {
    const big = jsonEntry('6-0', { DataStreamName: 'big', Info: { blob: 'x'.repeat(200) } });
    const { good, bad } = partitionEntries([good1, big, good2], 100);
    expect(good.map((e) => e.payload.idInLbs)).to.deep.equal(['1-0', '3-0']);
    expect(bad.map((b) => b.entry.id)).to.deep.equal(['6-0']);
  });

  it('returns two empty sides for an empty batch', () => {
    expect(partitionEntries([], MAX)).to.deep.equal({ good: [], bad: [] });
  });
});
