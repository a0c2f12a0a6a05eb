import { expect } from 'chai';
import { entryKeysOf, lockKey } from '../lib/keys';
import { fieldsOf, planReads } from '../lib/entries/read-plan';

describe('planReads (the XREAD commands of one read round)', () => {
  it('groups the streams by COUNT and cuts each group into chunks of keys', () => {
    const r = (key: string, count: number) => ({ key, after: '0-0', count });
    const plan = planReads([r('a', 10), r('b', 5), r('c', 10), r('d', 10)], 2);
    expect(plan).to.deep.equal([
      { count: 10, requests: [r('a', 10), r('c', 10)] },
      { count: 10, requests: [r('d', 10)] },
      { count: 5, requests: [r('b', 5)] },
    ]);
  });

  it('plans nothing for no stream', () => {
    expect(planReads([])).to.deep.equal([]);
  });
});

describe('fieldsOf (an entry field list as a record)', () => {
  it('keeps odd names as own properties and the last value of a repeated field', () => {
    const fields = fieldsOf(['__proto__', 'x', 'constructor', 'y', '', 'empty', 'a', '1', 'a', '2']);
    expect(Object.keys(fields)).to.deep.equal(['__proto__', 'constructor', '', 'a']);
    expect(fields['__proto__']).to.equal('x');
    expect(fields.a).to.equal('2');
    expect(Object.getPrototypeOf(fields)).to.equal(Object.prototype);
  });
});

describe('entryKeysOf (the keys beside a lock key)', () => {
  it('replaces the last separator, so the keys never match the lock pattern and keep a hash tag of the name', () => {
    expect(entryKeysOf(lockKey('{s1}', '1-0'))).to.deep.equal({ committed: '{s1}<COMMITTED>1-0', fence: '{s1}<FENCE>1-0' });
    expect(entryKeysOf(lockKey('a<MUTEX_KEY_SEP>b', '2-0')).fence).to.equal('a<MUTEX_KEY_SEP>b<FENCE>2-0');
  });
});
