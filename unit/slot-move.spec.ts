import { expect } from 'chai';
import { isSlotMoveError, slotMoveDelay } from '../lib/rules/slot-move';
import { RedisCommandError } from '../lib/errors';

describe('isSlotMoveError / slotMoveDelay', () => {
  it('knows TRYAGAIN, also as ioredis gives it up after its own retries and as the cause of a wrapped error', () => {
    const givenUp = new Error('Too many Cluster redirections. Last error: ReplyError: TRYAGAIN Multiple keys request during rehashing of slot');
    expect(isSlotMoveError(new Error('TRYAGAIN Multiple keys request during rehashing of slot'))).to.equal(true);
    expect(isSlotMoveError(givenUp)).to.equal(true);
    expect(isSlotMoveError(new RedisCommandError('Finishing stream "s" failed', { cause: givenUp }))).to.equal(true);
  });

  it('sends nothing else again: a failed node, a lost connection, a refused script', () => {
    for (const message of ['CLUSTERDOWN The cluster is down', 'Connection is closed.', 'NOSCRIPT No matching script', 'ERR tryagainlater is not a code']) {
      expect(isSlotMoveError(new Error(message)), message).to.equal(false);
    }
    expect(isSlotMoveError('TRYAGAIN')).to.equal(false);
  });

  it('waits 100 ms, doubled, at most 1 s, until the budget is spent', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => slotMoveDelay(n, 0, 500, 30_000))).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
    expect(slotMoveDelay(1, 0, 30_001, 30_000)).to.equal(undefined);
  });
});
