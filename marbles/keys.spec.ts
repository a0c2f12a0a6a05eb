import { expect } from 'chai';
import { MUTEX_KEY_SEP, keyspacePattern, keyspacePrefix, lockKey, parseLockKey } from '../lib/redis/keys';
import { earlierId, scriptArgs } from '../lib/redis/scripts';

describe('lock keys', () => {
  it('writes the stream name, the literal separator, then the LBS entry id (the Go wire format)', () => {
    expect(lockKey('orders', '1700000000000-0')).to.equal('orders<MUTEX_KEY_SEP>1700000000000-0');
  });

  it('parses back what lockKey wrote', () => {
    for (const [name, id] of [
      ['orders', '1-0'],
      ['orders', '1700000000000-42'],
      ['tenant:orders', '0-1'],
      ['a', '18446744073709551615-18446744073709551615'],
    ] as const) {
      expect(parseLockKey(lockKey(name, id)), name).to.deep.equal({ dataStreamName: name, idInLbs: id });
    }
  });

  it('splits at the last separator, so a name that contains the separator comes back whole', () => {
    const name = `left${MUTEX_KEY_SEP}right`;
    expect(parseLockKey(lockKey(name, '7-3'))).to.deep.equal({ dataStreamName: name, idInLbs: '7-3' });
    expect(parseLockKey(lockKey(`${MUTEX_KEY_SEP}${MUTEX_KEY_SEP}x`, '1-0'))).to.deep.equal({ dataStreamName: `${MUTEX_KEY_SEP}${MUTEX_KEY_SEP}x`, idInLbs: '1-0' });
  });

  it('round-trips names with glob characters and unicode unchanged', () => {
    for (const name of ['orders*', 'orders?', 'orders[0-9]', 'a\\b', 'tenant{1}', '*?[]\\{}', 'commandes-été', '注文', '🚚']) {
      expect(parseLockKey(lockKey(name, '3-4')), name).to.deep.equal({ dataStreamName: name, idInLbs: '3-4' });
    }
  });

  describe('parseLockKey returns undefined for a key that is not a lock key', () => {
    const cases: readonly [string, string][] = [
      ['a key without the separator', 'orders-input'],
      ['an empty key', ''],
      ['the separator alone', MUTEX_KEY_SEP],
      ['an empty stream name', `${MUTEX_KEY_SEP}1-0`],
      ['no id after the separator', `orders${MUTEX_KEY_SEP}`],
      ['an id that is not a stream id', `orders${MUTEX_KEY_SEP}abc`],
      ['an id without its sequence part', `orders${MUTEX_KEY_SEP}1700000000000`],
      ['an id with a sequence of *', `orders${MUTEX_KEY_SEP}1-*`],
      ['an id followed by more text', `orders${MUTEX_KEY_SEP}1-0x`],
      ['an id with a negative part', `orders${MUTEX_KEY_SEP}-1-0`],
      ['a separator spelt in another case', 'orders<mutex_key_sep>1-0'],
    ];
    for (const [what, key] of cases) {
      it(what, () => {
        expect(parseLockKey(key)).to.equal(undefined);
      });
    }
  });
});

describe('keyspace channels', () => {
  it('uses the database number in the channel prefix', () => {
    expect(keyspacePrefix(0)).to.equal('__keyspace@0__:');
    expect(keyspacePrefix(7)).to.equal('__keyspace@7__:');
  });

  it('subscribes to keyspace events of the lock keys of that database only', () => {
    expect(keyspacePattern(0)).to.equal('__keyspace@0__:*<MUTEX_KEY_SEP>*');
    expect(keyspacePattern(12)).to.equal('__keyspace@12__:*<MUTEX_KEY_SEP>*');
  });

  it('gives a channel that ends with the lock key, so parseLockKey reads the stream back from it', () => {
    const channel = `${keyspacePrefix(3)}${lockKey('orders[1]', '5-0')}`;
    expect(channel.startsWith(keyspacePrefix(3))).to.equal(true);
    expect(parseLockKey(channel.slice(keyspacePrefix(3).length))).to.deep.equal({ dataStreamName: 'orders[1]', idInLbs: '5-0' });
  });
});

describe('stream entry ids', () => {
  it('orders ids by milliseconds, then sequence, as numbers (not as text)', () => {
    expect(earlierId('9-0', '10-0')).to.equal('9-0');
    expect(earlierId('10-0', '9-0')).to.equal('9-0');
    expect(earlierId('5-10', '5-9')).to.equal('5-9');
    expect(earlierId('1700000000000-1', '1700000000000-1')).to.equal('1700000000000-1');
    expect(['3-0', '12-5', '12-40', '2-99'].reduce(earlierId)).to.equal('2-99');
  });
});

describe('script arguments', () => {
  it('lays out key count, fixed keys, one key per entry, fixed arguments, then each entry\'s arguments', () => {
    const entries = [{ k: 'a', x: 1, y: 'p' }, { k: 'b', x: 2, y: 'q' }, { k: 'c', x: 3, y: 'r' }];
    const args = scriptArgs(['K1', 'K2'], entries, 1, 3, (e) => e.k, ['A1'], [(e) => e.x, (e) => e.y]);
    expect(args).to.deep.equal([4, 'K1', 'K2', 'b', 'c', 'A1', 2, 'q', 3, 'r']);
  });

  it('takes no per-entry arguments by default', () => {
    expect(scriptArgs(['K'], ['x', 'y'], 0, 2, (e) => e, ['A', 0])).to.deep.equal([3, 'K', 'x', 'y', 'A', 0]);
  });
});
