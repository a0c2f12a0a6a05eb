import { expect } from 'chai';
import * as E from 'fp-ts/Either';
import { ClientOptionsCodec, resolveOptions } from '../lib/codecs/options';
import { closestOption, knownOptions } from '../lib/codecs/unknown-options';
import { InvalidOptionsError } from '../lib/errors';

const refusal = (options: unknown): InvalidOptionsError => {
  const result = resolveOptions(options, {});
  if (E.isRight(result)) throw new Error('accepted');
  expect(result.left).to.be.instanceOf(InvalidOptionsError);
  return result.left as InvalidOptionsError;
};

describe('unknown option keys', () => {
  it('refuses a typo with InvalidOptionsError naming it and the option meant', () => {
    const err = refusal({ consumerId: 'c', hbIntervall: 1000 });
    expect(err.code).to.equal('INVALID_OPTIONS');
    expect(err.message).to.contain('unknown option "hbIntervall" (did you mean "hbInterval"?)');
  });

  it('refuses a key inside retry, with its path', () => {
    expect(refusal({ consumerId: 'c', retry: { maxRetry: 3 } }).message).to.contain('unknown option "retry.maxRetry" (did you mean "retry.maxRetries"?)');
  });

  it('names every unknown key, and suggests nothing for a name close to no option', () => {
    const { message } = refusal({ consumerId: 'c', clusterMode: true, HBINTERVAL: 5 });
    expect(message).to.contain('unknown option "clusterMode";');
    expect(message).to.contain('unknown option "HBINTERVAL" (did you mean "hbInterval"?)');
    expect(message).to.contain('Known options: consumerId, hbInterval');
  });

  it('leaves the keys of the logger and the metrics recorder alone', () => {
    const logger = { debug() {}, info() {}, warn() {}, error() {}, child() {}, level: 'info' };
    expect(E.isRight(resolveOptions({ consumerId: 'c', logger, metrics: { recordClaimAttempt() {}, extra: 1 } }, {}))).to.equal(true);
  });

  it('knows every option of the codec, read from the codec itself', () => {
    const known = knownOptions(ClientOptionsCodec);
    expect(Object.keys(known)).to.deep.equal(Object.keys(ClientOptionsCodec.props));
    expect(Object.keys(known.retry!)).to.deep.equal(['maxRetries', 'initialDelay', 'maxDelay']);
    expect(known.logger).to.equal(null);
  });

  it('suggests the closest option only when it is close enough to be a typo', () => {
    expect(closestOption('readcount', ['readCount', 'reapInterval'])).to.equal('readCount');
    expect(closestOption('lbsIdle', ['lbsIdleTime', 'hbInterval'])).to.equal('lbsIdleTime');
    expect(closestOption('xyz', ['hbInterval'])).to.equal(undefined);
  });
});
