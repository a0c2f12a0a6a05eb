import { expect } from 'chai';
import { MUTEX_KEY_SEP, keyspacePattern, keyspacePrefix, lockKey, parseLockKey, serviceKeys } from '../lib/keys';

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

describe('service keys', () => {
  it('names the Go keys after the service, and the keys only this library writes beside them', () => {
    const keys = serviceKeys('orders');
    expect([keys.lbs, keys.group, keys.dead]).to.deep.equal(['orders-input', 'orders-group', 'orders-dead']);
    expect([keys.deadlines, keys.names, keys.epoch, keys.reaperGuard, keys.reconcilerGuard]).to.deep.equal([
      'orders-deadlines',
      'orders-names',
      'orders-epoch',
      'orders-reaper',
      'orders-reconciler',
    ]);
    expect(keys.locksOf('redis-consumer-a')).to.equal('orders-locks:redis-consumer-a');
  });
});
