import { expect } from 'chai';
import Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { ConsumerIdMissingError, InvalidOptionsError, RedisStreamClient, addStream } from '../lib';
import type { ClientOptions, Logger, MetricsRecorder } from '../lib';
import { connect, createGroup, readAsCrashedConsumer, sleep, streamName, useService } from '../support/service';

describe('client options, logger and metrics', () => {
  let redis: Redis;
  const savedEnv = { POD_NAME: process.env.POD_NAME, POD_IP: process.env.POD_IP };

  beforeEach(() => {
    redis = connect();
    delete process.env.POD_NAME;
    delete process.env.POD_IP;
  });

  afterEach(() => {
    redis.disconnect();
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  describe('consumer id', () => {
    it('comes from the option first', () => {
      process.env.POD_NAME = 'pod';
      expect(new RedisStreamClient(redis, 's', { consumerId: 'opt' }).id).to.equal('redis-consumer-opt');
    });
    it('else from POD_NAME, then POD_IP', () => {
      process.env.POD_IP = '10.0.0.7';
      expect(new RedisStreamClient(redis, 's').id).to.equal('redis-consumer-10.0.0.7');
      process.env.POD_NAME = 'pod-1';
      expect(new RedisStreamClient(redis, 's').id).to.equal('redis-consumer-pod-1');
    });
    it('is required: CONSUMER_ID_MISSING, with a message that says what to set', () => {
      expect(() => new RedisStreamClient(redis, 's')).to.throw(ConsumerIdMissingError, /POD_NAME/).with.property('code', 'CONSUMER_ID_MISSING');
    });
  });

  describe('validation at construction', () => {
    const invalid: [string, ClientOptions, RegExp][] = [
      ['lbsIdleTime below 2 * hbInterval', { hbInterval: 3000, lbsIdleTime: 5000 }, /lbsIdleTime.*2 \* hbInterval/],
      ['a zero lbsRecoveryCount', { lbsRecoveryCount: 0 }, /lbsRecoveryCount/],
      ['a fractional readCount', { readCount: 1.5 }, /readCount/],
      ['a string hbInterval', { hbInterval: '2000' as unknown as number }, /hbInterval/],
      ['retry.maxRetries below -1', { retry: { maxRetries: -2 } }, /retry\.maxRetries/],
      ['retry.maxDelay below retry.initialDelay', { retry: { initialDelay: 500, maxDelay: 100 } }, /retry\.maxDelay/],
      ['a logger without methods', { logger: {} as Logger }, /logger/],
    ];
    for (const [what, options, message] of invalid) {
      it(`refuses ${what} with INVALID_OPTIONS naming the option`, () => {
        expect(() => new RedisStreamClient(redis, 's', { consumerId: 'x', ...options }))
          .to.throw(InvalidOptionsError, message)
          .with.property('code', 'INVALID_OPTIONS');
      });
    }
    it('refuses an empty service name', () => {
      expect(() => new RedisStreamClient(redis, '', { consumerId: 'x' })).to.throw(InvalidOptionsError, /service/);
    });
    it('accepts a configurable heartbeat (the Go library fixes it at 2 s)', () => {
      expect(() => new RedisStreamClient(redis, 's', { consumerId: 'x', hbInterval: 250, lbsIdleTime: 500 })).not.to.throw();
    });
  });

  describe('injection', () => {
    const t = useService('inject');

    it('writes to the injected logger', async () => {
      const lines: [string, string | undefined][] = [];
      const logger: Logger = {
        debug: (_o, m) => void lines.push(['debug', m]),
        info: (_o, m) => void lines.push(['info', m]),
        warn: (_o, m) => void lines.push(['warn', m]),
        error: (_o, m) => void lines.push(['error', m]),
      };
      const c = t.consumer('log', { logger });
      await sleep(200);
      c.stop();
      expect(lines).to.deep.include(['info', 'client started']);
    });

    it('reports the Go recorder events to the injected metrics recorder', async () => {
      const events: string[] = [];
      const record = (name: string) => () => void events.push(name);
      const metrics: MetricsRecorder = {
        recordStartupRecovery: record('startupRecovery'),
        recordClaimAttempt: record('claimAttempt'),
        recordLockAcquisitionAttempt: record('lockAcquisition'),
        recordLockExtensionAttempt: record('lockExtension'),
        recordLockReleaseAttempt: record('lockRelease'),
        recordStreamProcessingStart: record('processingStart'),
        recordStreamProcessingEnd: record('processingEnd'),
        recordKspNotification: record('ksp'),
      };
      const { admin, service } = t;
      await createGroup(admin, service);
      await lastValueFrom(addStream(admin, service, { dataStreamName: streamName(service, 'orphan') }));
      await readAsCrashedConsumer(admin, service, 'redis-consumer-crashed', 1);
      // reconcileInterval out of the way: the reconciler would take the orphan before the explicit claim.
      const options = { hbInterval: 200, lbsIdleTime: 60_000, reconcileInterval: 60_000 };
      const owner = t.consumer('owner', options);
      await sleep(200);
      await lastValueFrom(addStream(admin, service, { dataStreamName: streamName(service, 'x') }));
      await owner.waitFor('StreamAdded', 1);
      const c = t.consumer('m', { ...options, metrics });
      await sleep(300);
      const [[orphanId]] = (await admin.xrange(`${service}-input`, '-', '+')) as [string, string[]][];
      await lastValueFrom(c.client.claim({ dataStreamName: streamName(service, 'orphan'), idInLbs: orphanId! }));
      owner.stop();
      await c.waitFor('StreamExpired', 1, 5000);
      await lastValueFrom(c.client.doneStream(streamName(service, 'orphan')), { defaultValue: undefined });
      c.stop();
      for (const name of ['startupRecovery', 'claimAttempt', 'lockAcquisition', 'lockExtension', 'lockRelease', 'processingStart', 'processingEnd', 'ksp']) {
        expect(events, name).to.include(name);
      }
    });
  });
});
