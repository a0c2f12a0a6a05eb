import { expect } from 'chai';
import { concat, of, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { ClientClosedError, RedisCommandError } from '../lib/errors';
import type { LbsPort } from '../lib/port';
import { ensureGroup, keyspaceFlags, startup$ } from '../lib/sources/startup';
import type { ClientOptions } from '../lib/types';
import { fakePort, messages, specDeps } from './support/deps';
import { newTestScheduler } from './support/scheduler';

describe('start-up', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  /** A server with these CONFIG values; CONFIG SET records what it was asked. */
  const server = (config: Record<string, string | Error>, more: Partial<LbsPort> = {}, options: ClientOptions = {}) => {
    const set: string[] = [];
    const port = fakePort({
      getConfig: (name) => {
        const value = config[name] ?? '';
        return typeof value === 'string' ? of(value) : throwError(() => value);
      },
      setConfig: (name, value) => (set.push(`${name}=${value}`), of(undefined)),
      ...more,
    });
    return { set, deps: specDeps(testScheduler, port, options) };
  };

  it('adds K and x to the keyspace flags, creates the group, keeps the first epoch it sees, then opens the reader', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const group = cold('-(e|)', { e: 'epoch-1' });
      const reader = cold<void>('--|');
      const { set, deps } = server({ 'notify-keyspace-events': 'Eg', maxmemory: '0' }, { createGroup: () => group });
      const start$ = startup$({ ...deps, flags: keyspaceFlags(deps), session: { openReader: () => reader }, isClosed: () => false });
      expectObservable(start$).toBe('---|');
      expectSubscriptions(group.subscriptions).toBe('^!');
      expectSubscriptions(reader.subscriptions).toBe('-^-!');
      testScheduler.flush();
      expect(set).to.deep.equal(['notify-keyspace-events=EgKx']);
      expect(deps.ledger.epoch).to.equal('epoch-1');
      expect(messages(deps.logs, 'info')).to.deep.equal(['set notify-keyspace-events', 'client started']);
    });
  });

  it('refuses a new session after done() or shutdown() with ClientClosedError, before touching Redis', () => {
    testScheduler.run(({ expectObservable }) => {
      const { deps } = server({});
      const start$ = startup$({ ...deps, flags: keyspaceFlags(deps), session: { openReader: () => of() }, isClosed: () => true });
      expectObservable(start$).toBe('#', undefined, new ClientClosedError());
    });
  });

  it('names the call that stopped the client: init() after shutdown() says shutdown(), after done() says done()', () => {
    for (const by of ['shutdown()', 'done()'] as const) {
      testScheduler.run(({ expectObservable }) => {
        const { deps } = server({});
        const start$ = startup$({ ...deps, flags: keyspaceFlags(deps), session: { openReader: () => of() }, isClosed: () => by });
        expectObservable(start$).toBe('#', undefined, new ClientClosedError(by));
      });
      expect(new ClientClosedError(by).message).to.contain(`stopped with ${by};`);
    }
  });

  it('wraps a failure to create the group in a RedisCommandError naming the group', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const { deps } = server({ 'notify-keyspace-events': 'Kx' }, { createGroup: () => cold<string>('-#', undefined, new Error('READONLY')) });
      const start$ = startup$({ ...deps, flags: keyspaceFlags(deps), session: { openReader: () => of() }, isClosed: () => false });
      expectObservable(start$).toBe('-#', undefined, new RedisCommandError('Creating consumer group svc-group failed: READONLY'));
    });
  });

  it('keeps the epoch it first saw when the group is re-created (a changed epoch means Redis lost its data)', () => {
    testScheduler.run(({ expectObservable }) => {
      const epochs = ['epoch-1', 'epoch-2'];
      const { deps } = server({}, { createGroup: () => of(epochs.shift()!) });
      expectObservable(concat(ensureGroup(deps), ensureGroup(deps))).toBe('|');
      testScheduler.flush();
      expect(deps.ledger.epoch).to.equal('epoch-1');
    });
  });

  it('sets exactly Kx with forceConfigOverride, and changes nothing when the flags already include K and x', () => {
    testScheduler.run(({ expectObservable }) => {
      const forced = server({ 'notify-keyspace-events': 'AKE' }, {}, { forceConfigOverride: true });
      const merged = server({ 'notify-keyspace-events': 'AK' });
      expectObservable(concat(keyspaceFlags(forced.deps), keyspaceFlags(merged.deps))).toBe('|');
      testScheduler.flush();
      expect(forced.set).to.deep.equal(['notify-keyspace-events=Kx']);
      expect(merged.set).to.deep.equal([]);
    });
  });

  it('warns once, not at every turn, while CONFIG is refused, and never errors', () => {
    testScheduler.run(({ expectObservable }) => {
      const { deps } = server({ 'notify-keyspace-events': new Error('ERR unknown command CONFIG') });
      const flags = keyspaceFlags(deps);
      expectObservable(concat(flags, flags, flags)).toBe('|');
      testScheduler.flush();
      expect(messages(deps.logs, 'warn')).to.have.length(1);
      expect(messages(deps.logs, 'warn')[0]).to.match(/^Could not make notify-keyspace-events include K and x \(CONFIG refused\)/);
    });
  });

  it('warns at start-up when maxmemory-policy can evict lock keys', () => {
    testScheduler.run(({ expectObservable }) => {
      const { deps } = server({ 'notify-keyspace-events': 'Kx', maxmemory: '104857600', 'maxmemory-policy': 'allkeys-lru' }, { createGroup: () => of('e') });
      const start$ = startup$({ ...deps, flags: keyspaceFlags(deps), session: { openReader: () => of(undefined) }, isClosed: () => false });
      expectObservable(start$).toBe('|');
      testScheduler.flush();
      expect(messages(deps.logs, 'warn')[0]).to.match(/^maxmemory-policy allkeys-lru can evict lock keys/);
    });
  });
});

