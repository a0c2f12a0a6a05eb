import { expect } from 'chai';
import { backoffDelay } from '../lib/rules/backoff';

describe('backoffDelay', () => {
  it('doubles from initialDelay at each retry and never exceeds maxDelay', () => {
    const config = { initialDelay: 100, maxDelay: 1000 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, config))).to.deep.equal([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('stays at maxDelay for very high attempt numbers instead of overflowing', () => {
    const config = { initialDelay: 100, maxDelay: 30_000 };
    expect(backoffDelay(1_000, config)).to.equal(30_000);
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, config)).to.equal(30_000);
  });

  it('uses maxDelay from the first retry when maxDelay is below initialDelay', () => {
    expect(backoffDelay(1, { initialDelay: 500, maxDelay: 50 })).to.equal(50);
  });
});
