/**
 * The one protocol between a consumer in a child process (support/consumer.ts) and its parent
 * (support/child.ts): how the parent configures it (environment variables), the events it prints
 * (one JSON object per line on stdout) and the commands it reads (one JSON object per line on
 * stdin). Both sides import this file, so they cannot drift apart.
 */

/** What the child does; `toEnv` turns it into its environment, `fromEnv` back. */
export interface ConsumerConfig {
  /** `redis://…`, or `redis-sentinel://host:port,…/<master>` for a primary behind Sentinel (support/sentinel.ts) */
  readonly redisUrl: string;
  readonly service: string;
  /** the consumer id: the client is `redis-consumer-<pod>` */
  readonly pod: string;
  /** client options; the library's default when not given */
  readonly hbInterval?: number;
  readonly lbsIdleTime?: number;
  readonly readCount?: number;
  /** client options of the balanced fleet (`rebalance`: 'true', 'false' or 'consumed') */
  readonly maxStreams?: number;
  readonly rebalance?: 'true' | 'false' | 'consumed';
  readonly rebalanceBatch?: number;
  /** claim every StreamExpired it hears */
  readonly claim?: boolean;
  /** `manual` (default): its own mergeMap over the notifications; `operators`: claimExpired + processStreams; `consume`: processStreams with consumeStream, an `entry` line per entry handled */
  readonly process?: 'manual' | 'operators' | 'consume';
  /**
   * What it does with a stream it owns: `none` (default) holds it; `timer` works `workMinMs..workMaxMs`
   * (or `Info.workMs`) in one timer; `steps` works as long in steps of 250 ms, a step whose timer
   * fired late not counting; `churn` finishes the streams named `churnPrefix*` after a random hold
   * of 0..`churnHoldMs` and holds the others; `entries` (operators process only) reads the data
   * stream with `consumeStream`, each entry a timer of `entryMs`, the stream done after its entry
   * with the field `end` or `type: end`. Every work but `none` ends with doneStream.
   */
  readonly work?: 'none' | 'timer' | 'steps' | 'churn' | 'entries';
  /** work `entries` (PROCESS=operators): consumeStream of each owned stream, `entryMs` per entry, a `handled` line per entry; it ends after an entry with the field `end` */
  readonly entryMs?: number;
  /** work `entries`: consumeStream's commitEvery */
  readonly commitEntries?: number;
  readonly commitMs?: number;
  readonly workMinMs?: number;
  readonly workMaxMs?: number;
  readonly churnPrefix?: string;
  readonly churnHoldMs?: number;
  /** `events` (default): a line per event, and the library's info+ log lines; `counts`: quiet counting (100k streams) */
  readonly report?: 'events' | 'counts';
  /** counts: print `owned` once it was handed this many streams */
  readonly target?: number;
  /** a `tick` line every hbInterval/2 with the lock extensions the library reported (metrics) */
  readonly ticks?: boolean;
  /** on SIGTERM: `done` (default) finishes every owned stream, `shutdown` hands them back unacknowledged; then it exits */
  readonly onSigterm?: 'done' | 'shutdown';
  /** exit (code 1) when the notification stream errors */
  readonly exitOnError?: boolean;
  /** load, print `loaded`, and start the client only on SIGUSR1 (a restart in milliseconds) */
  readonly startOnSignal?: boolean;
  /** how long SIGUSR2 (or the `block` command without `ms`) blocks the event loop, ms */
  readonly blockMs?: number;
}

type Kind = 'string' | 'number' | 'flag';
const ENV: { readonly [K in keyof ConsumerConfig]-?: readonly [string, Kind] } = {
  redisUrl: ['REDIS_URL', 'string'],
  service: ['SERVICE', 'string'],
  pod: ['POD_NAME', 'string'],
  hbInterval: ['HB_INTERVAL', 'number'],
  lbsIdleTime: ['LBS_IDLE_TIME', 'number'],
  readCount: ['READ_COUNT', 'number'],
  maxStreams: ['MAX_STREAMS', 'number'],
  rebalance: ['REBALANCE', 'string'],
  rebalanceBatch: ['REBALANCE_BATCH', 'number'],
  claim: ['CLAIM', 'flag'],
  process: ['PROCESS', 'string'],
  work: ['WORK', 'string'],
  workMinMs: ['WORK_MIN_MS', 'number'],
  workMaxMs: ['WORK_MAX_MS', 'number'],
  churnPrefix: ['CHURN_PREFIX', 'string'],
  churnHoldMs: ['CHURN_HOLD_MS', 'number'],
  entryMs: ['ENTRY_MS', 'number'],
  commitEntries: ['COMMIT_ENTRIES', 'number'],
  commitMs: ['COMMIT_MS', 'number'],
  report: ['REPORT', 'string'],
  target: ['TARGET', 'number'],
  ticks: ['TICKS', 'flag'],
  onSigterm: ['ON_SIGTERM', 'string'],
  exitOnError: ['EXIT_ON_ERROR', 'flag'],
  startOnSignal: ['START_ON_SIGNAL', 'flag'],
  blockMs: ['BLOCK_MS', 'number'],
};

/** The child's environment: `base` without any of the protocol's variables, plus those of `config`. */
export const toEnv = (config: ConsumerConfig, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv => {
  const env = { ...base };
  for (const [key, [name, kind]] of Object.entries(ENV)) {
    delete env[name];
    const value = config[key as keyof ConsumerConfig];
    if (value === undefined || value === false) continue;
    env[name] = kind === 'flag' ? '1' : String(value);
  }
  return env;
};

/** The child's config, read from its environment. */
export const fromEnv = (env: NodeJS.ProcessEnv = process.env): ConsumerConfig => {
  const config: Record<string, string | number | boolean> = {};
  for (const [key, [name, kind]] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    config[key] = kind === 'number' ? Number(raw) : kind === 'flag' ? raw === '1' : raw;
  }
  for (const required of ['redisUrl', 'service', 'pod'] as const) {
    if (config[required] === undefined) throw new Error(`support/consumer.ts: env ${ENV[required][0]} is required`);
  }
  return config as unknown as ConsumerConfig;
};

/** The consumer id of the client a config runs. */
export const consumerName = (config: Pick<ConsumerConfig, 'pod'>): string => `redis-consumer-${config.pod}`;

/** Keeps names of any size printable (a 1 MB name would make a 1 MB line). */
export const shortName = (name: string): string => (name.length > 120 ? `${name.slice(0, 100)}…(${name.length} chars)` : name);

/** The fields of an event about one data stream. */
export interface StreamFields {
  /** the data-stream name, cut to 120 characters (`shortName`) */
  readonly stream: string;
  readonly nameLength: number;
  /** the LBS entry id */
  readonly id: string;
}

/** The counters every child keeps (the `heap` and `cpu` replies carry them). */
export interface Counts {
  /** StreamAdded */
  readonly added: number;
  /** StreamDisowned */
  readonly disowned: number;
  /** StreamReleased */
  readonly released: number;
  /** claims won */
  readonly claimed: number;
  /** StreamExpired heard, and claims lost (another consumer won, or this one was full) */
  readonly expired: number;
  readonly claimsLost: number;
  /** streams its work finished (doneStream acknowledged), and doneStream refusals */
  readonly finished: number;
  readonly failedDone: number;
}

/** The fields of each event (before the stamp every line carries). */
/**
 * TICKS=1: what the heartbeat and the claims looked like since the previous tick (`*Max`) or since
 * the start (the counts): the evidence when a fleet spirals.
 */
export interface TickDiag {
  /** the slowest extension answered since the previous tick (ms from sending to its answer) */
  readonly hbMaxMs: number;
  /** extensions abandoned after one TTL, or failed (the library's `heartbeat failed`) */
  readonly hbFailed: number;
  /** the slowest claim answered since the previous tick (ms from `claim()` to its answer) */
  readonly claimMaxMs: number;
  /** streams dropped by `judge()` (not confirmed for longer than the TTL) */
  readonly judged: number;
  /** streams an extension found Lost (another consumer holds the lock, or took the entry) */
  readonly statusLost: number;
  /** locks an extension found vanished and re-took */
  readonly retaken: number;
  /** locks kept alive for streams dropped meanwhile, made to expire (strays) */
  readonly strays: number;
  /** from a claim's answer to the first extension answered for that stream: the slowest since the previous tick, and how many took longer than the TTL in all */
  readonly firstExtMaxMs: number;
  readonly firstExtOverTtl: number;
}

export type EventBody =
  /** startOnSignal: loaded, waiting for SIGUSR1 to start the client */
  | { event: 'loaded' }
  /** the client started (keyspace flags, group, reader): it serves streams from now on */
  | { event: 'ready' }
  /** notifications (`workMs`: the planned work, manual process with timed work) */
  | ({ event: 'added'; info: Record<string, unknown>; workMs?: number } & StreamFields)
  | ({ event: 'expired' } & StreamFields)
  | ({ event: 'claimed'; info: Record<string, unknown>; workMs?: number } & StreamFields)
  /** StreamReleased (handed back for balance; counts: at the first and every 10k, with the count) */
  | ({ event: 'released'; reason: string; count?: number } & StreamFields)
  /** consume: one entry of a data stream handled (its id in the data stream) */
  | ({ event: 'entry'; entryId: string } & StreamFields)
  /** operators: outcome Rebalanced (processStreams stopped the work on a stream handed back for balance) */
  | ({ event: 'rebalanced'; startedAt?: number } & StreamFields)
  /** counts: printed at the first StreamDisowned and every 10k, with the count */
  | ({ event: 'disowned'; count?: number } & StreamFields)
  /** manual: claim() refused (another consumer won the race) */
  | ({ event: 'claim-lost'; code?: string } & StreamFields)
  /** operators: the handler started on a stream (a processing window opens) */
  | ({ event: 'started'; workMs: number } & StreamFields)
  /** operators: the handler completed; doneStream is called next */
  | ({ event: 'work-done' } & StreamFields)
  /** the work done and acknowledged (outcome Processed); `startedAt`: when the window opened */
  | ({ event: 'finished'; startedAt?: number } & StreamFields)
  /** operators: outcome Abandoned (disowned, or doneStream found the stream no longer ours) */
  | ({ event: 'abandoned'; startedAt?: number } & StreamFields)
  /** operators: outcome Failed (the handler or doneStream failed) */
  | ({ event: 'failed'; startedAt?: number; code?: string; message?: string } & StreamFields)
  /** work `entries`: consumeStream emitted `entry` (handled and committed; `fence` that of the handler's last entry); REPORT=counts: not printed */
  | ({ event: 'committed'; entry: string; fence: number } & StreamFields)
  /** manual: doneStream refused (NOT_OWNER: another consumer took the stream meanwhile) */
  | ({ event: 'done-refused'; code?: string } & StreamFields)
  /** notifications$ errored, or (with stream fields) a claim failed other than by a lost race */
  | ({ event: 'error'; code?: string; message: string } & Partial<StreamFields>)
  /** notifications$ completed */
  | { event: 'completed' }
  /** SIGTERM handled: done() or shutdown() ended (`code`: it failed); the process exits next */
  | { event: 'stopped'; code?: string }
  /** work `entries`: the handler of one data-stream entry completed (`entry`: its id, `fence`: ctx.fence) */
  | ({ event: 'handled'; entry: string; fence: number; fields: Record<string, string> } & StreamFields)
  /** a line of the library's logger (info and above) */
  | ({ event: 'lib'; level: string; message: string } & Partial<StreamFields>)
  /** the event loop is blocked by a busy-wait from block-start to block-end */
  | { event: 'block-start'; ms: number }
  | { event: 'block-end' }
  /** counts: handed `target` streams; and every 10k StreamAdded */
  | { event: 'owned'; count: number }
  | { event: 'progress'; count: number }
  /** ticks: every hbInterval/2 */
  | { event: 'tick'; beats: number; extended: number; extendFailed: number; diag?: TickDiag }
  /** replies to the commands */
  | ({ event: 'heap'; gc: boolean; heapUsed: number; heapTotal: number; rss: number; external: number; owned: number } & Counts)
  | ({ event: 'cpu'; cpuMs: number; userMs: number; systemMs: number; wallMs: number; maxLoopDelayMs: number; p99LoopDelayMs: number; heartbeatTicksMs: number[] } & Counts);

/** What every line carries: the child's wall clock (ms since epoch), its consumer id and pid. */
export interface Stamp {
  readonly at: number;
  readonly consumer: string;
  readonly pid: number;
}

/** One line of a child; every event may be read for its stream fields (undefined when it has none). */
export type ConsumerEvent = Readonly<EventBody & Partial<StreamFields>> & Stamp;
export type EventName = ConsumerEvent['event'];
export type EventOf<K extends EventName> = Extract<ConsumerEvent, { event: K }>;

/** The commands a child reads on stdin, and the event each is answered with. */
export type Command =
  /** heap after GC (the child needs --expose-gc for a GC) */
  | { cmd: 'heap' }
  /** CPU, event-loop delay and heartbeat ticks over the next `ms` */
  | { cmd: 'cpu'; ms: number }
  /** block the event loop for `ms` (default blockMs) in a timer callback */
  | { cmd: 'block'; ms?: number }
  /** unsubscribe and exit */
  | { cmd: 'stop' };

export type ReplyOf<C extends Command> = C extends { cmd: 'heap' } ? EventOf<'heap'> : C extends { cmd: 'cpu' } ? EventOf<'cpu'> : C extends { cmd: 'block' } ? EventOf<'block-end'> : never;

/** The event a command is answered with, if any. */
export const replyTo = (command: Command): EventName | undefined =>
  ({ heap: 'heap', cpu: 'cpu', block: 'block-end', stop: undefined } as const)[command.cmd];

const COMMANDS = new Set<string>(['heap', 'cpu', 'block', 'stop']);

/** A command line read by the child; undefined for anything else. */
export const asCommand = (value: Record<string, unknown>): Command | undefined => (COMMANDS.has(value.cmd as string) ? (value as unknown as Command) : undefined);

/** An event line read by the parent; undefined for anything else (stray output). */
export const asEvent = (value: Record<string, unknown>): ConsumerEvent | undefined =>
  typeof value.event === 'string' && typeof value.at === 'number' ? (value as unknown as ConsumerEvent) : undefined;

/** The fields of an event about a data stream. */
export const about = (payload: { dataStreamName: string; idInLbs: string }): StreamFields => ({
  stream: shortName(payload.dataStreamName),
  nameLength: payload.dataStreamName.length,
  id: payload.idInLbs,
});
