/**
 * The Go-behaviour twin: a consumer in a child process that does, step by step, what a consumer of
 * the Go library (redis-stream-client-go, go-redis 9, redsync 4) does on the shared wire format,
 * so that the mixed-fleet specs run without a Go toolchain (support/go-twin-child.ts spawns it).
 * Every step below names the Go behaviour it copies; none of this library's code is used.
 *
 *   Init        CONFIG GET notify-keyspace-events: non-empty and no force option -> refuse to start
 *               ("existing configuration detected without force override option"); else CONFIG SET
 *               exactly `KEx`. PSUBSCRIBE __keyspace@0__:*<MUTEX_KEY_SEP>* (db 0, as Go).
 *               XGROUP CREATE <lbs> <group> $ MKSTREAM (entries already in the LBS are never read).
 *               Start-up recovery: XAUTOCLAIM <lbs> <group> <me> <lbsIdleTime> 0-0 COUNT <recoveryCount>
 *               page after page, **without looking at locks**, then the hand-out of each recovered
 *               entry (below); a lock it cannot take ends the recovery (logged), the entry stays in
 *               its pending list.
 *   reader      XREADGROUP GROUP <group> <me> BLOCK 0 STREAMS <lbs> > (no COUNT: takes everything new).
 *   hand-out    per entry: decode (a bad entry ends the reader: StreamTerminated), lock with
 *               SET <name><MUTEX_KEY_SEP><id> <me> NX PX <hb> (redsync: 32 tries, 10 ms apart; a
 *               failure ends the reader), StreamAdded, and one extension loop for that lock.
 *   extension   per lock, one key at a time: the redsync extend script with SetNXOnExtend (PEXPIRE
 *               if the value is ours, SET NX PX if the key is gone), then sleep hb/2. A failed
 *               extension ends the loop with StreamDisowned.
 *   expiries    every `expired` event of a lock key (any service) is StreamExpired; with CLAIM=1
 *               the application calls Claim on each (as the Go README's example does).
 *   Claim       XCLAIM <lbs> <group> <me> <hb = min-idle> <id> **first**; empty -> "already claimed";
 *               then the lock (as hand-out); a lock it cannot take fails the Claim, but the entry has
 *               already moved to its pending list.
 *   DoneStream  redsync unlock (DEL if the value is ours; gone is fine; held by another -> error),
 *               XACK, XDEL.
 *   Done        DoneStream for every stream (on SIGTERM), then exit.
 *
 * Configuration: the environment of support/protocol.ts (REDIS_URL, SERVICE, POD_NAME,
 * HB_INTERVAL default 2000 as Go, LBS_IDLE_TIME default 40000, CLAIM, WORK=none|timer with
 * WORK_MIN_MS/WORK_MAX_MS or Info.workMs), plus GO_FORCE_CONFIG_OVERRIDE=1
 * (WithForceConfigOverride) and GO_RECOVERY_COUNT (WithLBSRecoveryCount, default 1000).
 * Events: the JSON lines of support/protocol.ts (`ready`, `added`, `expired`, `claimed`,
 * `claim-lost`, `disowned`, `finished`, `done-refused`, `error`, `lib`, `stopped`).
 * Commands on stdin: {"cmd":"claim","stream","id"} (the application calls Claim),
 * {"cmd":"done","stream"} (DoneStream), {"cmd":"stop"}. It exits when its stdin closes.
 */
import Redis from 'ioredis';
import { onJsonLines } from './processes';
import { EventBody, about, consumerName, fromEnv } from './protocol';

const SEP = '<MUTEX_KEY_SEP>';
const config = fromEnv();
const me = consumerName(config);
const hb = config.hbInterval ?? 2000;
const lbsIdleTime = config.lbsIdleTime ?? 40_000;
const recoveryCount = Number(process.env.GO_RECOVERY_COUNT || 1000);
const force = process.env.GO_FORCE_CONFIG_OVERRIDE === '1';
const lbs = `${config.service}-input`;
const group = `${config.service}-group`;
const pattern = `__keyspace@0__:*${SEP}*`;
const LOCK_TRIES = 32;
const LOCK_RETRY_MS = 10;

const emit = (body: EventBody): void => void process.stdout.write(`${JSON.stringify({ ...body, at: Date.now(), consumer: me, pid: process.pid })}\n`);
const log = (level: string, message: string): void => emit({ event: 'lib', level, message });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const redis = new Redis(config.redisUrl, { connectionName: `go-twin-${config.pod}` });
const reader = new Redis(config.redisUrl, { connectionName: `go-twin-reader-${config.pod}` });
const subscriber = new Redis(config.redisUrl, { connectionName: `go-twin-subscriber-${config.pod}` });
for (const c of [redis, reader, subscriber]) c.on('error', () => undefined);

/** redsync's extend script with SetNXOnExtend. */
const EXTEND = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if v == false then if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end end
return 0`;
/** redsync's release script: 1 deleted, -1 already gone, 0 held by another. */
const UNLOCK = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('DEL', KEYS[1]) elseif v == false then return -1 end
return 0`;

interface Owned {
  readonly name: string;
  readonly id: string;
  readonly info: Record<string, unknown>;
  done: boolean;
  work?: NodeJS.Timeout;
}
/** Go's streamLocks: data-stream name -> what it holds. */
const streamLocks = new Map<string, Owned>();
let closed = false;

const lockKey = (name: string, id: string): string => `${name}${SEP}${id}`;

/** redsync Mutex.Lock: SET NX PX, LOCK_TRIES tries LOCK_RETRY_MS apart. */
const lock = async (key: string): Promise<boolean> => {
  for (let i = 0; i < LOCK_TRIES; i++) {
    if ((await redis.set(key, me, 'PX', hb, 'NX')) === 'OK') return true;
    await sleep(LOCK_RETRY_MS);
  }
  return false;
};

const planWork = (info: Record<string, unknown>): number | undefined => {
  if ((config.work ?? 'none') === 'none') return undefined;
  const fromInfo = Number(info.workMs);
  if (Number.isFinite(fromInfo) && fromInfo > 0) return fromInfo;
  const min = config.workMinMs ?? 300;
  return min + Math.random() * ((config.workMaxMs ?? 2000) - min);
};

/** The application: works on a stream it owns, then DoneStream. */
const startWork = (owned: Owned): void => {
  const workMs = planWork(owned.info);
  if (workMs !== undefined) owned.work = setTimeout(() => void doneStream(owned.name), workMs);
};

/** startExtendingKey: one key, every hb/2, until done; a failure is StreamDisowned. */
const extendLoop = async (owned: Owned): Promise<void> => {
  const key = lockKey(owned.name, owned.id);
  for (;;) {
    if (closed || owned.done) return;
    let ok = false;
    try {
      ok = (await redis.eval(EXTEND, 1, key, me, hb)) === 1;
    } catch {
      ok = false;
    }
    if (closed || owned.done) return;
    if (!ok) {
      if (streamLocks.get(owned.name) === owned) streamLocks.delete(owned.name);
      clearTimeout(owned.work);
      emit({ event: 'disowned', ...about({ dataStreamName: owned.name, idInLbs: owned.id }) });
      return;
    }
    await sleep(hb / 2);
  }
};

const own = (name: string, id: string, info: Record<string, unknown>): Owned => {
  const owned: Owned = { name, id, info, done: false };
  streamLocks.set(name, owned);
  void extendLoop(owned);
  return owned;
};

const decode = (fields: string[]): { name: string; info: Record<string, unknown> } => {
  const at = fields.indexOf('lbs-input');
  if (at < 0 || at % 2 !== 0) throw new Error('invalid key for LBS; must be `lbs-input`');
  const parsed = JSON.parse(fields[at + 1]!) as { DataStreamName?: unknown; Info?: unknown };
  if (typeof parsed.DataStreamName !== 'string' || parsed.DataStreamName === '') throw new Error('lbs message does not have data stream name');
  return { name: parsed.DataStreamName, info: (parsed.Info ?? {}) as Record<string, unknown> };
};

/** processLBSMessages: decode, lock, StreamAdded, extension loop; the first failure ends the batch. */
const handOut = async (messages: [string, string[]][]): Promise<void> => {
  for (const [id, fields] of messages) {
    const { name, info } = decode(fields);
    if (!(await lock(lockKey(name, id)))) throw new Error(`lock ${lockKey(name, id)}: redsync: failed to acquire lock`);
    const owned = own(name, id, info);
    emit({ event: 'added', ...about({ dataStreamName: name, idInLbs: id }), info });
    startWork(owned);
  }
};

/** Claim: XCLAIM before anything else, then the lock. */
const claim = async (name: string, id: string): Promise<void> => {
  const payload = { dataStreamName: name, idInLbs: id };
  try {
    const claimed = (await redis.xclaim(lbs, group, me, hb, id)) as [string, string[]][];
    if (claimed.length === 0 || claimed[0]?.[1] == null) throw Object.assign(new Error('already claimed'), { code: 'ALREADY_CLAIMED' });
    if (!(await lock(lockKey(name, id)))) throw Object.assign(new Error('redsync: failed to acquire lock'), { code: 'LOCK_FAILED' });
    let info: Record<string, unknown> = {};
    try {
      info = decode(claimed[0]![1]).info;
    } catch {
      // Go leaves AdditionalInfo empty when the entry does not decode
    }
    const owned = own(name, id, info);
    emit({ event: 'claimed', ...about(payload), info });
    startWork(owned);
  } catch (err) {
    emit({ event: 'claim-lost', ...about(payload), code: (err as { code?: string }).code ?? 'REDIS' });
  }
};

/** DoneStream: unlock, XACK, XDEL. */
const doneStream = async (name: string): Promise<void> => {
  const owned = streamLocks.get(name);
  if (owned === undefined) return emit({ event: 'done-refused', stream: name, nameLength: name.length, id: '', code: 'STREAM_NOT_FOUND' });
  streamLocks.delete(name);
  owned.done = true;
  clearTimeout(owned.work);
  const payload = { dataStreamName: name, idInLbs: owned.id };
  try {
    const released = (await redis.eval(UNLOCK, 1, lockKey(name, owned.id), me)) as number;
    if (released === 0) return emit({ event: 'done-refused', ...about(payload), code: 'LOCK_TAKEN' });
    await redis.xack(lbs, group, owned.id);
    await redis.xdel(lbs, owned.id);
    emit({ event: 'finished', ...about(payload) });
  } catch (err) {
    emit({ event: 'done-refused', ...about(payload), code: 'REDIS' });
    log('error', `DoneStream ${name}: ${message(err)}`);
  }
};

const enableKeyspaceNotifications = async (): Promise<void> => {
  const [, current] = (await redis.config('GET', 'notify-keyspace-events')) as [string, string];
  if (current !== undefined && current.length > 0) {
    if (!force) throw Object.assign(new Error('existing configuration detected without force override option'), { code: 'EXISTING_CONFIG' });
    log('warn', 'overriding existing keyspace notifications config since force override is set');
  }
  await redis.config('SET', 'notify-keyspace-events', 'KEx');
};

const subscribeToExpiredEvents = async (): Promise<void> => {
  subscriber.on('pmessage', (_pattern: string, channel: string, payload: string) => {
    if (payload !== 'expired' || closed) return;
    const parts = channel.slice('__keyspace@0__:'.length).split(SEP);
    if (parts.length !== 2) return log('warn', `invalid ksp format: ${channel}`);
    const [name, id] = parts as [string, string];
    emit({ event: 'expired', ...about({ dataStreamName: name, idInLbs: id }) });
    if (config.claim) void claim(name, id);
  });
  await subscriber.psubscribe(pattern);
};

const createGroup = async (): Promise<void> => {
  await redis.xgroup('CREATE', lbs, group, '$', 'MKSTREAM').catch((err: Error) => {
    if (!err.message.startsWith('BUSYGROUP')) throw err;
  });
};

/** recoverUnackedLBS: XAUTOCLAIM every page (locks are not looked at), then the hand-out. */
const recoverUnackedLBS = async (): Promise<void> => {
  const recovered: [string, string[]][] = [];
  let start = '0-0';
  do {
    const [next, messages] = (await redis.xautoclaim(lbs, group, me, lbsIdleTime, start, 'COUNT', recoveryCount)) as [string, [string, string[] | null][]];
    for (const [id, fields] of messages) if (fields !== null) recovered.push([id, fields]);
    start = next;
  } while (start !== '0-0');
  log('info', `unacked messages found in LBS for consumer pending_count=${recovered.length}`);
  try {
    await handOut(recovered);
  } catch (err) {
    log('error', `recovering unacked LBS messages: ${message(err)}`);
  }
};

/** readLBSStream: XREADGROUP BLOCK 0 without COUNT; a hand-out failure terminates it. */
const readLBSStream = async (): Promise<void> => {
  while (!closed) {
    let reply: [string, [string, string[]][]][] | null;
    try {
      reply = (await reader.xreadgroup('GROUP', group, me, 'BLOCK', 0, 'STREAMS', lbs, '>')) as [string, [string, string[]][]][] | null;
    } catch (err) {
      if (closed) return;
      log('error', `error while reading from LBS: ${message(err)}`);
      await sleep(100);
      continue;
    }
    const messages = reply?.[0]?.[1] ?? [];
    if (messages.length > 0) log('info', `read batch size=${messages.length}`);
    try {
      await handOut(messages);
    } catch (err) {
      emit({ event: 'error', code: 'STREAM_TERMINATED', message: message(err) });
      return;
    }
  }
};

const exit = (code: number): void => {
  closed = true;
  for (const c of [redis, reader, subscriber]) c.disconnect();
  process.exit(code);
};

const init = async (): Promise<void> => {
  try {
    await enableKeyspaceNotifications();
    await subscribeToExpiredEvents();
    await createGroup();
    await recoverUnackedLBS();
  } catch (err) {
    emit({ event: 'error', code: (err as { code?: string }).code ?? 'REDIS', message: `Init: ${message(err)}` });
    return exit(1);
  }
  emit({ event: 'ready' });
  void readLBSStream();
};

process.on('SIGTERM', () => {
  void (async () => {
    for (const name of [...streamLocks.keys()]) await doneStream(name);
    emit({ event: 'stopped' });
    exit(0);
  })();
});

onJsonLines(process.stdin, (value) => {
  if (value.cmd === 'claim') void claim(String(value.stream), String(value.id));
  else if (value.cmd === 'done') void doneStream(String(value.stream));
  else if (value.cmd === 'stop') exit(0);
});
process.stdin.on('end', () => exit(0));

void init();
