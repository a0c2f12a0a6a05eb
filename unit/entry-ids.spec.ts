import { expect } from 'chai';
import { earlierId, idRange } from '../lib/rules/entry-ids';

describe('stream entry ids', () => {
  it('orders ids by milliseconds, then sequence, as numbers (not as text)', () => {
    expect(earlierId('9-0', '10-0')).to.equal('9-0');
    expect(earlierId('10-0', '9-0')).to.equal('9-0');
    expect(earlierId('5-10', '5-9')).to.equal('5-9');
    expect(earlierId('1700000000000-1', '1700000000000-1')).to.equal('1700000000000-1');
    expect(['3-0', '12-5', '12-40', '2-99'].reduce(earlierId)).to.equal('2-99');
  });

  it('finds the smallest and the largest id of a batch, in any order', () => {
    expect(idRange(['12-5', '3-0', '12-40', '2-99'])).to.deep.equal({ first: '2-99', last: '12-40' });
    expect(idRange(['7-1'])).to.deep.equal({ first: '7-1', last: '7-1' });
  });
});
