import { expect } from 'chai';
import * as E from 'fp-ts/Either';
import { DEFAULTS, resolveOptions, silentLogger } from '../lib/codecs/options';
import { ConsumerIdMissingError, InvalidOptionsError, RedisStreamClientError } from '../lib/errors';
import type { Logger, ResolvedOptions } from '../lib/types';

const ENV: NodeJS.ProcessEnv = { POD_NAME: 'pod-a' };

const resolved = (input: unknown, env: NodeJS.ProcessEnv = ENV): ResolvedOptions => {
  const result = resolveOptions(input, env);
  if (E.isLeft(result)) throw new Error(`expected ${JSON.stringify(input)} to resolve, got ${result.left.code}: ${result.left.message}`);
  return result.right;
};

const refused = (input: unknown, env: NodeJS.ProcessEnv = ENV): RedisStreamClientError => {
  const result = resolveOptions(input, env);
  if (E.isRight(result)) throw new Error(`expected ${JSON.stringify(input)} to be refused, got ${JSON.stringify(result.right)}`);
  return result.left;
};

/** The error for options that are out of range or of the wrong type; its message must name `option`. */
const invalid = (input: unknown, option: string): InvalidOptionsError => {
  const error = refused(input);
  expect(error, JSON.stringify(input)).to.be.instanceOf(InvalidOptionsError);
  expect(error.code).to.equal('INVALID_OPTIONS');
  expect(error.name).to.equal('InvalidOptionsError');
  expect(error.message, JSON.stringify(input)).to.include(option);
  return error as InvalidOptionsError;
};

const logger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('resolveOptions', () => {
  describe('defaults', () => {
    it('fills in every default when no option is given', () => {
      const o = resolved({});
      expect(o).to.deep.include({
        consumerId: 'pod-a',
        hbInterval: 2000,
        lbsIdleTime: 40000,
        lbsRecoveryCount: 1000,
        readCount: 10,
        maxEntryBytes: 1024 * 1024,
        retry: { maxRetries: 5, initialDelay: 100, maxDelay: 30000 },
        forceConfigOverride: false,
        metrics: {},
      });
      expect(o.logger).to.equal(silentLogger);
    });

    it('treats undefined and null as no options', () => {
      expect(resolved(undefined)).to.deep.equal(resolved({}));
      expect(resolved(null)).to.deep.equal(resolved({}));
    });

    it('treats options set to undefined as left out', () => {
      const o = resolved({ hbInterval: undefined, lbsIdleTime: undefined, retry: { maxRetries: undefined, maxDelay: undefined } });
      expect(o.hbInterval).to.equal(DEFAULTS.hbInterval);
      expect(o.lbsIdleTime).to.equal(DEFAULTS.lbsIdleTime);
      expect(o.retry).to.deep.equal({ maxRetries: 5, initialDelay: 100, maxDelay: 30000 });
    });

    it('keeps the options given and fills in the rest of retry', () => {
      const o = resolved({ hbInterval: 500, lbsIdleTime: 1000, lbsRecoveryCount: 7, readCount: 3, maxEntryBytes: 64, retry: { maxRetries: -1 }, forceConfigOverride: true, logger });
      expect(o).to.deep.include({ hbInterval: 500, lbsIdleTime: 1000, lbsRecoveryCount: 7, readCount: 3, maxEntryBytes: 64, forceConfigOverride: true });
      expect(o.retry).to.deep.equal({ maxRetries: -1, initialDelay: 100, maxDelay: 30000 });
      expect(o.logger).to.equal(logger);
    });

    it('raises the default lbsIdleTime to 2 * hbInterval when a long hbInterval needs it', () => {
      expect(resolved({ hbInterval: 30000 }).lbsIdleTime).to.equal(60000);
      expect(resolved({ hbInterval: 20000 }).lbsIdleTime).to.equal(40000);
    });

    it('accepts maxRetries 0 (never retry) and -1 (retry forever)', () => {
      expect(resolved({ retry: { maxRetries: 0 } }).retry.maxRetries).to.equal(0);
      expect(resolved({ retry: { maxRetries: -1 } }).retry.maxRetries).to.equal(-1);
    });
  });

  describe('consumer id', () => {
    it('takes the consumerId option first', () => {
      expect(resolved({ consumerId: 'worker-1' }, { POD_NAME: 'pod-a', POD_IP: '10.0.0.1' }).consumerId).to.equal('worker-1');
    });

    it('falls back to env POD_NAME', () => {
      expect(resolved({}, { POD_NAME: 'pod-a', POD_IP: '10.0.0.1' }).consumerId).to.equal('pod-a');
    });

    it('falls back to env POD_IP when POD_NAME is not set', () => {
      expect(resolved({}, { POD_IP: '10.0.0.1' }).consumerId).to.equal('10.0.0.1');
    });

    it('skips an empty POD_NAME and falls back to env POD_IP (as the Go client does)', () => {
      expect(resolved({}, { POD_NAME: '', POD_IP: '10.0.0.1' }).consumerId).to.equal('10.0.0.1');
    });

    it('skips an empty consumerId and falls back to the environment', () => {
      expect(resolved({ consumerId: '' }, { POD_NAME: 'pod-a' }).consumerId).to.equal('pod-a');
    });

    it('refuses with ConsumerIdMissingError (CONSUMER_ID_MISSING) when there is none', () => {
      const error = refused({}, {});
      expect(error).to.be.instanceOf(ConsumerIdMissingError);
      expect(error.code).to.equal('CONSUMER_ID_MISSING');
      expect(error.message).to.include('options.consumerId').and.include('POD_NAME').and.include('POD_IP');
    });

    it('refuses with CONSUMER_ID_MISSING when the option and the environment are all empty', () => {
      expect(refused({ consumerId: '' }, { POD_NAME: '', POD_IP: '' }).code).to.equal('CONSUMER_ID_MISSING');
    });

    it('refuses a consumer id with a space, naming it', () => {
      expect(invalid({ consumerId: 'pod a' }, 'consumer id').message).to.include('"pod a"');
      expect(refused({}, { POD_NAME: 'pod a' }).code).to.equal('INVALID_OPTIONS');
    });

    it('refuses a consumerId that is not a string', () => {
      invalid({ consumerId: 42 }, 'options.consumerId');
    });
  });

  describe('refuses with INVALID_OPTIONS, naming the option', () => {
    it('lbsIdleTime below 2 * hbInterval, and accepts exactly 2 * hbInterval', () => {
      const error = invalid({ hbInterval: 2000, lbsIdleTime: 3999 }, 'options.lbsIdleTime');
      expect(error.message).to.include('hbInterval').and.include('4000');
      expect(resolved({ hbInterval: 2000, lbsIdleTime: 4000 }).lbsIdleTime).to.equal(4000);
    });

    it('an hbInterval raised above half the lbsIdleTime given', () => {
      invalid({ hbInterval: 30000, lbsIdleTime: 40000 }, 'options.lbsIdleTime');
    });

    it('an hbInterval below 10 ms', () => {
      invalid({ hbInterval: 9 }, 'options.hbInterval');
      expect(resolved({ hbInterval: 10, lbsIdleTime: 20 }).hbInterval).to.equal(10);
    });

    for (const option of ['hbInterval', 'lbsIdleTime', 'lbsRecoveryCount', 'readCount', 'maxEntryBytes'] as const) {
      it(`${option} that is not a positive integer (0, negative, fractional, NaN, Infinity)`, () => {
        for (const value of [0, -1, 1.5, NaN, Infinity]) {
          invalid({ [option]: value }, `options.${option}`);
        }
      });
    }

    it('hbInterval given as a string, quoting the value', () => {
      const error = invalid({ hbInterval: '2000' }, 'options.hbInterval');
      expect(error.message).to.include('positive integer').and.include('"2000"');
    });

    it('retry.maxRetries below -1, or fractional', () => {
      expect(invalid({ retry: { maxRetries: -2 } }, 'options.retry.maxRetries').message).to.include('-2');
      invalid({ retry: { maxRetries: 1.5 } }, 'options.retry.maxRetries');
    });

    it('retry delays that are not positive integers', () => {
      invalid({ retry: { initialDelay: 0 } }, 'options.retry.initialDelay');
      invalid({ retry: { maxDelay: -5 } }, 'options.retry.maxDelay');
    });

    it('retry.maxDelay below retry.initialDelay, including against a default', () => {
      const error = invalid({ retry: { initialDelay: 500, maxDelay: 100 } }, 'options.retry.maxDelay');
      expect(error.message).to.include('initialDelay');
      invalid({ retry: { initialDelay: 60000 } }, 'options.retry.maxDelay');
      expect(resolved({ retry: { initialDelay: 500, maxDelay: 500 } }).retry).to.deep.equal({ maxRetries: 5, initialDelay: 500, maxDelay: 500 });
    });

    it('a logger without the four methods', () => {
      invalid({ logger: {} }, 'options.logger');
      invalid({ logger: { debug: () => undefined, info: () => undefined, warn: () => undefined } }, 'options.logger');
      invalid({ logger: { ...logger, error: 'nope' } }, 'options.logger');
    });

    it('a logger that is not an object', () => {
      invalid({ logger: 'console' }, 'options.logger');
    });

    it('a forceConfigOverride that is not a boolean', () => {
      invalid({ forceConfigOverride: 'yes' }, 'options.forceConfigOverride');
    });

    it('every wrong option at once, naming each', () => {
      const error = invalid({ hbInterval: 'fast', readCount: 0 }, 'options.hbInterval');
      expect(error.message).to.include('options.readCount');
    });
  });

  describe('key layout and partitions', () => {
    it('leaves the layout and the partition count to the connection when not given', () => {
      expect(resolved({})).to.deep.include({ keyLayout: undefined, partitions: undefined });
      expect(resolved({ keyLayout: 'tagged', partitions: 4 })).to.deep.include({ keyLayout: 'tagged', partitions: 4 });
    });

    it('refuses an unknown layout, a partition count that is not a positive integer, and partitions with the Go layout', () => {
      expect(refused({ keyLayout: 'cluster' })).to.be.instanceOf(InvalidOptionsError);
      expect(refused({ partitions: 0 })).to.be.instanceOf(InvalidOptionsError);
      expect(refused({ partitions: 1.5 })).to.be.instanceOf(InvalidOptionsError);
      expect(refused({ keyLayout: 'go', partitions: 2 }).message).to.include('tagged');
    });
  });
});
