#!/usr/bin/env node
/**
 * `redis-stream-client-rx`: look at a service from the outside (read-only, except `requeue`).
 *
 *   redis-stream-client-rx inspect <service> [--url redis://…] [--json] [--watch] [--hb-interval ms]
 *   redis-stream-client-rx dead-letters <service> [list|requeue <id>] [--url redis://…] [--json]
 *
 * Works for fleets of this library, of the Go library, and mixed ones: everything is read from the
 * LBS, its group and the lock keys of the pending entries. Exit codes: `EXIT`.
 */
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { DeadLetterNotFoundError, StillInvalidError, listDeadLetters, requeueDeadLetter } from './dead-letters';
import { renderDeadLetters, renderSnapshot } from './render';
import { UnknownServiceError, snapshot } from './snapshot';

export const EXIT = {
  ok: 0,
  /** Redis unreachable, or a command failed. */
  failed: 1,
  /** Bad arguments. */
  usage: 2,
  /** No such service, or no such dead letter. */
  notFound: 3,
  /** `requeue` refused: the dead letter is still invalid. */
  refused: 4,
} as const;

const NAME = 'redis-stream-client-rx';

export const USAGE = `Usage:
  ${NAME} inspect <service> [--url URL] [--json] [--watch] [--hb-interval MS]
  ${NAME} dead-letters <service> [list] [--url URL] [--json]
  ${NAME} dead-letters <service> requeue <id> [--url URL]

inspect        consumers (live, overdue or idle; streams owned; last heartbeat), every stream
               handed out and not done (owner, lock TTL, fence, committed position and lag when
               those keys exist), the LBS length and pending count, the newest dead letters
dead-letters   list the dead letters with their reasons, or put one back into the LBS (requeue)

  --url URL          Redis to read (default: env REDIS_URL, else redis://127.0.0.1:6379)
  --json             one JSON document (with --watch: one line per second)
  --watch            redraw every second until Ctrl-C
  --hb-interval MS   the fleet's heartbeat interval, to date the last heartbeats (default 2000)
  --help             this text

Exit codes: 0 ok, 1 Redis unreachable or a command failed, 2 bad arguments,
3 unknown service or dead letter, 4 requeue refused (the entry is still invalid).`;

class UsageError extends Error {}

export type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'inspect'; readonly service: string; readonly url: string; readonly json: boolean; readonly watch: boolean; readonly hbInterval: number }
  | { readonly kind: 'dead-letters'; readonly service: string; readonly url: string; readonly json: boolean; readonly action: 'list' }
  | { readonly kind: 'dead-letters'; readonly service: string; readonly url: string; readonly json: boolean; readonly action: 'requeue'; readonly id: string };

/** The command line as a `Command`; throws `UsageError` with what is wrong. */
export const parseCommand = (argv: readonly string[], env: NodeJS.ProcessEnv): Command => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        json: { type: 'boolean', default: false },
        watch: { type: 'boolean', default: false },
        'hb-interval': { type: 'string', default: '2000' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] === 'help') return { kind: 'help' };
  const [command, service, action, id, ...rest] = positionals;
  if (command === undefined) throw new UsageError('No command given.');
  if (command !== 'inspect' && command !== 'dead-letters') throw new UsageError(`Unknown command "${command}" (inspect or dead-letters).`);
  if (service === undefined || service === '') throw new UsageError(`${command} needs the service name.`);
  const url = values.url ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!/^rediss?:\/\/[^\s]*$/.test(url) || !URL.canParse(url)) throw new UsageError(`--url must be a redis:// or rediss:// URL (got "${url}").`);
  if (command === 'inspect') {
    if (action !== undefined) throw new UsageError(`Unexpected argument "${action}" after the service name.`);
    const hbInterval = Number(values['hb-interval']);
    if (!Number.isInteger(hbInterval) || hbInterval <= 0) throw new UsageError(`--hb-interval must be a positive number of ms (got "${values['hb-interval']}").`);
    return { kind: 'inspect', service, url, json: values.json, watch: values.watch, hbInterval };
  }
  if (values.watch) throw new UsageError('--watch is for inspect only.');
  if (action === undefined || action === 'list') {
    if (id !== undefined) throw new UsageError(`Unexpected argument "${id}" after list.`);
    return { kind: 'dead-letters', service, url, json: values.json, action: 'list' };
  }
  if (action !== 'requeue') throw new UsageError(`Unknown dead-letters action "${action}" (list or requeue <id>).`);
  if (id === undefined || !/^\d+-\d+$/.test(id)) throw new UsageError(`requeue needs the id of a dead letter, like 1700000000000-0 (got ${id === undefined ? 'none' : `"${id}"`}).`);
  if (rest.length > 0) throw new UsageError(`Unexpected argument "${rest[0]}".`);
  return { kind: 'dead-letters', service, url, json: values.json, action: 'requeue', id };
};

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Resolves when the user asks to stop (Ctrl-C), for --watch. */
  readonly interrupted: Promise<void>;
}

const redact = (url: string): string => url.replace(/\/\/([^@/]*)@/, '//***@');

/** Connects, or throws an error that names the URL. `reconnect` keeps retrying later failures (for --watch). */
const open = async (url: string, reconnect: boolean): Promise<Redis> => {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: reconnect ? 0 : 1,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: `${NAME}-cli`,
  });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    const cause = lastError ?? (err as Error);
    throw new Error(`Cannot reach Redis at ${redact(url)}: ${cause.message || (cause as NodeJS.ErrnoException).code || String(cause)}. Start it, or pass --url (or set REDIS_URL).`);
  }
  if (reconnect) (redis.options as { retryStrategy?: () => number }).retryStrategy = () => 1000;
  return redis;
};

const sleep = (ms: number, until: Promise<void>): Promise<boolean> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(true), ms);
    void until.then(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });

const CLEAR = '\x1b[2J\x1b[H';

/** Runs one command; the exit code. */
export const run = async (command: Command, io: Io): Promise<number> => {
  if (command.kind === 'help') {
    io.out(USAGE);
    return EXIT.ok;
  }
  const redis = await open(command.url, command.kind === 'inspect' && command.watch);
  try {
    if (command.kind === 'dead-letters') {
      if (command.action === 'list') {
        const letters = await listDeadLetters(redis, command.service);
        io.out(command.json ? JSON.stringify({ service: command.service, deadLetters: letters }, null, 2) : `DEAD LETTERS (${letters.length})\n${renderDeadLetters(letters)}`);
        return EXIT.ok;
      }
      const newId = await requeueDeadLetter(redis, command.service, command.id);
      io.out(command.json ? JSON.stringify({ requeued: command.id, id: newId }) : `requeued dead letter ${command.id} as LBS entry ${newId} of ${command.service}-input`);
      return EXIT.ok;
    }
    if (!command.watch) {
      const s = await snapshot(redis, command.service, command.hbInterval);
      io.out(command.json ? JSON.stringify(s, null, 2) : renderSnapshot(s));
      return EXIT.ok;
    }
    // --watch: the first snapshot must work; later failures are shown, and it goes on.
    let first = true;
    do {
      try {
        const s = await snapshot(redis, command.service, command.hbInterval);
        io.out(command.json ? JSON.stringify(s) : `${CLEAR}${renderSnapshot(s)}\n\n(every second; Ctrl-C to stop)`);
      } catch (err) {
        if (first) throw err;
        io.out(command.json ? JSON.stringify({ error: (err as Error).message }) : `${CLEAR}${(err as Error).message}\n\n(retrying every second; Ctrl-C to stop)`);
      }
      first = false;
    } while (await sleep(1000, io.interrupted));
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
};

/** The exit code and message of an error of `run`. */
export const failure = (err: unknown): { code: number; message: string } => {
  if (err instanceof UsageError) return { code: EXIT.usage, message: `${err.message}\n\n${USAGE}` };
  if (err instanceof UnknownServiceError || err instanceof DeadLetterNotFoundError) return { code: EXIT.notFound, message: err.message };
  if (err instanceof StillInvalidError) return { code: EXIT.refused, message: err.message };
  return { code: EXIT.failed, message: err instanceof Error ? err.message : String(err) };
};

export const main = async (argv: readonly string[]): Promise<number> => {
  const interrupted = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  const io: Io = { out: (t) => void process.stdout.write(`${t}\n`), err: (t) => void process.stderr.write(`${t}\n`), interrupted };
  try {
    return await run(parseCommand(argv, process.env), io);
  } catch (err) {
    const { code, message } = failure(err);
    io.err(`${NAME}: ${message}`);
    return code;
  }
};

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
  });
}
