/**
 * Command-line flags of the demo: parsing, validation (a clear message per mistake) and --help.
 */

export interface DemoFlags {
  /** Consumer child processes. */
  readonly consumers: number;
  /** Data streams the producer adds. */
  readonly streams: number;
  /** Heartbeat interval = lock TTL, ms. */
  readonly heartbeatMs: number;
  /** Simulated processing time of one stream, ms: picked at random in [min, max]. */
  readonly workMs: { readonly min: number; readonly max: number };
  /** The demo gives up (exit 1) if the work is not finished this long after start, ms. */
  readonly timeoutMs: number;
}

export type FlagsResult =
  | { readonly kind: 'run'; readonly flags: DemoFlags }
  | { readonly kind: 'help' }
  | { readonly kind: 'invalid'; readonly message: string };

export const DEFAULT_FLAGS: DemoFlags = {
  consumers: 3,
  streams: 12,
  heartbeatMs: 1000,
  workMs: { min: 6000, max: 10000 },
  timeoutMs: 50_000,
};

export const HELP = `Usage: npm run demo -- [flags]

Runs a fleet of consumers of redis-stream-client-rx in child processes, hands them data streams,
SIGKILLs the busiest consumer (its streams fail over to the others), SIGSTOPs another one for
3 heartbeats (it is told it was disowned when it wakes), and checks in Redis that nothing was lost.

Flags:
  --consumers N     consumer processes, 3..12 (default ${DEFAULT_FLAGS.consumers}; one is killed, one is paused)
  --streams M       data streams to add, 1..200 (default ${DEFAULT_FLAGS.streams})
  --heartbeat MS    heartbeat interval = lock TTL in ms, 100..5000 (default ${DEFAULT_FLAGS.heartbeatMs})
  --work MIN-MAX    simulated processing time of one stream, seconds (default ${DEFAULT_FLAGS.workMs.min / 1000}-${DEFAULT_FLAGS.workMs.max / 1000})
  --timeout S       give up (exit 1) if the work is not finished after S seconds (default ${DEFAULT_FLAGS.timeoutMs / 1000})
  -h, --help        show this help

Redis: REDIS_URL if set, else 127.0.0.1:6379 if it answers, else a private redis-server on a
free port (removed at the end). Everything the demo writes is under a service name demo-<timestamp>
and is deleted at the end.

Exit code: 0 when every stream added was processed (nothing lost), 1 otherwise, 2 for bad flags.
`;

type Parser = (value: string, flags: DemoFlags) => DemoFlags | string;

const integer = (name: string, min: number, max: number, apply: (n: number, f: DemoFlags) => DemoFlags, why = ''): Parser => (value, flags) => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) return `${name} must be a whole number from ${min} to ${max} (got "${value}")${why}`;
  return apply(n, flags);
};

const workRange: Parser = (value, flags) => {
  const match = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(value);
  const [min, max] = match ? [Number(match[1]) * 1000, Number(match[2]) * 1000] : [NaN, NaN];
  if (!match || min < 500 || max > 60_000 || min > max) {
    return `--work must be MIN-MAX in seconds, 0.5 <= MIN <= MAX <= 60, e.g. 6-10 (got "${value}")`;
  }
  return { ...flags, workMs: { min, max } };
};

const PARSERS: Record<string, Parser> = {
  '--consumers': integer('--consumers', 3, 12, (consumers, f) => ({ ...f, consumers }), '; the demo kills one consumer, pauses another, and needs a third to take over'),
  '--streams': integer('--streams', 1, 200, (streams, f) => ({ ...f, streams })),
  '--heartbeat': integer('--heartbeat', 100, 5000, (heartbeatMs, f) => ({ ...f, heartbeatMs })),
  '--work': workRange,
  '--timeout': integer('--timeout', 10, 600, (s, f) => ({ ...f, timeoutMs: s * 1000 })),
};

/** Splits `--flag=value` into `--flag value`. */
const normalize = (argv: readonly string[]): string[] =>
  argv.flatMap((arg) => (arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg]));

/** Parses the arguments after the script name. */
export const parseFlags = (argv: readonly string[]): FlagsResult => {
  const args = normalize(argv);
  let flags = DEFAULT_FLAGS;
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!;
    if (name === '-h' || name === '--help') return { kind: 'help' };
    const parse = PARSERS[name];
    if (parse === undefined) return { kind: 'invalid', message: `unknown flag "${name}"` };
    const value = args[++i];
    if (value === undefined) return { kind: 'invalid', message: `${name} needs a value` };
    const next = parse(value, flags);
    if (typeof next === 'string') return { kind: 'invalid', message: next };
    flags = next;
  }
  return { kind: 'run', flags };
};
