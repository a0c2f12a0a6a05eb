import type { Cluster } from 'ioredis';
import type Redis from 'ioredis';
import { resolveLayout } from '../lib/layout';
import { MUTEX_KEY_SEP } from '../lib';
import { entryKeysOf } from '../lib/keys';
import type { ConsumerEvent } from '../support/protocol';
import { shortName } from '../support/protocol';
import { EntryAnalysis, analyseEntries } from './entry-checks';
import type { Added } from './producer';

/** What the driver knows of one consumer process after a run. */
export interface ProcRecord {
  readonly pid: number;
  readonly consumer: string;
  readonly events: readonly ConsumerEvent[];
  readonly exitedAt: number | undefined;
}

/** The fault one run injected. */
export interface FaultRecord {
  /** when the fault was injected (ms) */
  readonly at: number;
  /** when it ended (the process/server resumed, the proxy spoke again...); = at for instant faults */
  readonly endAt: number;
  /** the injected pause (ms): the duplicate-ownership bound is one TTL plus this */
  readonly pauseMs: number;
  /** the processes the fault hit ('all': a Redis or network fault hits every consumer) */
  readonly targets: readonly number[] | 'all';
  /** Redis lost its data at this time (restart without persistence): entries not finished by then vanished */
  readonly dataLostAt?: number;
  /** when a stopped or blocked consumer woke, by pid (it must learn its losses at its next heartbeat) */
  readonly wokeAt?: Readonly<Record<number, number>>;
  /** figures of the case's own (pubsub connections killed, the silenced consumer's pid...) */
  readonly data?: Readonly<Record<string, number>>;
  readonly notes: string[];
}

/** Redis's own state once the run settled. */
export interface RedisState {
  readonly xlen: number;
  /** XPENDING count (-1: no group) */
  readonly pending: number;
  readonly locks: string[];
  readonly deadlines: number;
  readonly dead: { sourceId: string; reason: string; consumer: string; bytes: number }[];
  readonly flags: string;
  /** For each lock left: its data stream's length and last id, and the committed position (evidence for a stream still held). */
  readonly heldStreams?: { lock: string; xlen: number; lastId: string | null; committed: string | null }[];
}

/** The primaries of a Cluster connection, or the connection itself. */
const nodesOf = (redis: Redis): Redis[] => ((redis as unknown as Cluster).isCluster ? (redis as unknown as Cluster).nodes('master') : [redis]);

/**
 * Redis's state for `service`, every partition summed (on a Cluster the tagged layout, one LBS per
 * partition; on one node the Go layout), lock keys scanned on every primary.
 */
export const redisState = async (admin: Redis, service: string): Promise<RedisState> => {
  const onCluster = (admin as unknown as Cluster).isCluster === true;
  const layout = resolveLayout(service, onCluster, {});
  const partitions = Array.from({ length: layout.partitions }, (_, p) => layout.keysOf(p));
  let xlen = 0;
  let pending = 0;
  let deadlines = 0;
  const dead: RedisState['dead'] = [];
  for (const keys of partitions) {
    xlen += await admin.xlen(keys.lbs);
    try {
      const summary = (await admin.xpending(keys.lbs, keys.group)) as [number, ...unknown[]];
      if (pending >= 0) pending += Number(summary[0]);
    } catch {
      pending = -1;
    }
    deadlines += await admin.zcard(keys.deadlines);
    const raw = (await admin.xrange(keys.dead, '-', '+')) as [string, string[]][];
    dead.push(
      ...raw.map(([, fields]) => {
        const get = (name: string): string => {
          const at = fields.findIndex((f, i) => i % 2 === 0 && f === name);
          return at >= 0 ? fields[at + 1]! : '';
        };
        return { sourceId: get('source-id'), reason: get('reason'), consumer: get('consumer'), bytes: fields.reduce((n, f) => n + f.length, 0) };
      }),
    );
  }
  const locks: string[] = [];
  const heldStreams: NonNullable<RedisState['heldStreams']> = [];
  const flagsSeen: string[] = [];
  for (const node of nodesOf(admin)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `*${MUTEX_KEY_SEP}*`, 'COUNT', 1000);
      cursor = next;
      locks.push(...keys.map(shortName));
      for (const lock of keys.slice(0, 20)) {
        const stream = layout.parseLockKey(lock)?.dataStreamName;
        if (stream === undefined) continue;
        const last = (await admin.xrevrange(stream, '+', '-', 'COUNT', 1).catch(() => [])) as [string, string[]][];
        heldStreams.push({ lock: shortName(lock), xlen: await admin.xlen(stream).catch(() => -1), lastId: last[0]?.[0] ?? null, committed: await admin.get(entryKeysOf(lock).committed) });
      }
    } while (cursor !== '0');
    const [, nodeFlags = ''] = (await node.config('GET', 'notify-keyspace-events')) as string[];
    flagsSeen.push(nodeFlags);
  }
  // On a Cluster: the flags of the primary that has the fewest (every primary needs K and x).
  const flags = flagsSeen.sort((a, b) => a.length - b.length)[0] ?? '';
  return { xlen, pending, locks, deadlines, dead, flags, heldStreams };
};

/** The outcomes that end a processing window (processStreams' outcomes, as the consumer programs print them). */
export type WindowEnd = 'finished' | 'abandoned' | 'failed' | 'rebalanced' | 'released';
const WINDOW_END_EVENTS: ReadonlySet<string> = new Set<WindowEnd>(['finished', 'abandoned', 'failed', 'rebalanced', 'released']);
export const endsWindow = (event: string | undefined): event is WindowEnd => event !== undefined && WINDOW_END_EVENTS.has(event);

/**
 * One consumer process's hold on one LBS entry: from `started` to the first of: `disowned` (the
 * library told it to stop), its outcome (finished/abandoned/failed), its death. `how` is the
 * outcome: a window that ended with `disowned` and then `finished` is a late acknowledgement of
 * work that was done (nobody else took the entry meanwhile).
 */
export interface Window {
  readonly id: string;
  readonly name: string;
  readonly pid: number;
  readonly consumer: string;
  readonly start: number;
  readonly end: number;
  readonly how: WindowEnd | 'killed' | 'open';
}

export const windowsOf = (procs: readonly ProcRecord[], now: number): Window[] => {
  const windows: Window[] = [];
  for (const p of procs) {
    const open = new Map<string, { start: ConsumerEvent; disownedAt?: number }>();
    for (const e of p.events) {
      if (e.event === 'started') open.set(e.id!, { start: e });
      else if (e.event === 'disowned') {
        // Told it lost the stream: its hold ends here, even if an acknowledgement sent before
        // (doneStream already in flight) is answered later.
        const w = open.get(e.id!);
        if (w !== undefined) w.disownedAt ??= e.at;
      } else if (endsWindow(e.event)) {
        const w = open.get(e.id!);
        if (w === undefined) continue;
        open.delete(e.id!);
        windows.push({ id: e.id!, name: w.start.stream!, pid: p.pid, consumer: p.consumer, start: w.start.at, end: w.disownedAt ?? e.at, how: e.event });
      }
    }
    for (const { start: s, disownedAt } of open.values()) {
      const killed = p.exitedAt !== undefined;
      windows.push({ id: s.id!, name: s.stream!, pid: p.pid, consumer: p.consumer, start: s.at, end: disownedAt ?? p.exitedAt ?? now, how: killed ? 'killed' : 'open' });
    }
  }
  return windows.sort((a, b) => a.start - b.start);
};

const overlap = (a: Window, b: Window): number => Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));

export interface Overlap {
  readonly ms: number;
  readonly a?: Window;
  readonly b?: Window;
}

/**
 * The longest time two windows with the same key overlapped. Default: two different processes
 * holding the same LBS entry (key = id). With two entries of one data stream (key = name):
 * 'other-process' compares different entries in different processes, 'same-process' in one.
 */
export const maxOverlap = (windows: readonly Window[], key: (w: Window) => string, entries?: 'other-process' | 'same-process'): Overlap => {
  const groups = new Map<string, Window[]>();
  for (const w of windows) groups.set(key(w), [...(groups.get(key(w)) ?? []), w]);
  let worst: Overlap = { ms: 0 };
  for (const group of groups.values()) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const [a, b] = [group[i]!, group[j]!];
        if (entries === undefined ? a.pid === b.pid : a.id === b.id || (entries === 'same-process') !== (a.pid === b.pid)) continue;
        const ms = overlap(a, b);
        if (ms > worst.ms) worst = { ms, a, b };
      }
    }
  }
  return worst;
};

export const percentile = (values: readonly number[], p: number): number | undefined => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};

/** Everything one run is judged on. */
export interface Analysis {
  /** LBS entries of the run (confirmed by Redis, or seen by a consumer) */
  readonly streams: number;
  /** entries that vanished with Redis's data (restart without persistence): not counted below */
  readonly vanished: number;
  readonly finished: number;
  readonly deadLettered: number;
  /**
   * entries whose work was done by a process that died with its doneStream reply in flight, and
   * that Redis shows acknowledged: finished, the `finished` line never printed
   */
  readonly finishedUnconfirmed: string[];
  /** entries neither finished nor dead-lettered */
  readonly lost: number;
  readonly lostIds: string[];
  /** entries with more than one `finished` */
  readonly finishedTwice: string[];
  /** valid entries that were dead-lettered, and bad ones that were not */
  readonly wrongDeadLetters: string[];
  readonly duplicate: Overlap;
  readonly duplicateBoundMs: number;
  /** the same data stream held by two processes at once, through two different entries */
  readonly sameNameOverlap: Overlap;
  /** the same data stream processed twice at once by one process (two entries of one name) */
  readonly sameNameInProcess: Overlap;
  /** windows opened on an entry after another process had finished it (work done twice) */
  readonly staleStarts: Window[];
  /** windows open on a hit process when the fault came, that ended unfinished */
  readonly interrupted: Window[];
  /** how the interrupted entries were taken up: claimed after an expiry event, or handed out again (reconciler, sweep: StreamAdded) */
  readonly takenUpBy: { claim: number; added: number };
  /** for each interrupted entry: how many windows were opened on it after the fault */
  readonly interruptedRestarts: Record<string, number>;
  /** fault injection to the next start of each entry whose window the fault interrupted */
  readonly recoveryMs: number[];
  /** interrupted entries nobody took up again */
  readonly unrecovered: string[];
  /** added during the fault: time from XADD to the first start */
  readonly handOutMs: number[];
  /** failed XADDs whose entry nobody ever saw (it may never have existed) */
  readonly uncertainAdds: number;
  readonly windows: Window[];
  /** the entries of the data streams of the finished LBS entries (consumeStream) */
  readonly entries: EntryAnalysis;
  readonly failures: string[];
}

export interface AnalysisInput {
  readonly added: readonly Added[];
  readonly procs: readonly ProcRecord[];
  readonly state: RedisState;
  readonly fault: FaultRecord;
  readonly hbInterval: number;
  readonly settled: boolean;
  readonly now: number;
  /** kinds of entries that must be dead-lettered */
  readonly mustDeadLetter: readonly string[];
  /** kinds of entries that may be dead-lettered (with a reason) or processed */
  readonly mayDeadLetter?: readonly string[];
  /** the consumers' commitEvery.entries: the bound of entries handled twice per take */
  readonly commitEntries?: number;
  /** the fault fails a primary over: writes it acknowledged shortly before may be lost (asynchronous replication) */
  readonly writesMayVanish?: boolean;
}

/** How far behind its primary a replica may be when the primary fails (ms): generous for loopback. */
const REPLICATION_LAG_MS = 500;

export const analyse = (input: AnalysisInput): Analysis => {
  const { added, procs, state, fault, hbInterval } = input;
  const failures: string[] = [];
  const windows = windowsOf(procs, input.now);
  const events = procs.flatMap((p) => p.events.map((e) => ({ ...e, pid: p.pid })));

  // Every entry of the run: confirmed by the producer, or seen by a consumer (an XADD whose reply was lost).
  const entries = new Map<string, { id: string; name: string; kind: string; at: number }>();
  for (const a of added) if (a.id !== undefined) entries.set(a.id, { id: a.id, name: a.name, kind: a.kind, at: a.confirmedAt! });
  for (const e of events) {
    if (e.id === undefined || entries.has(e.id) || !['added', 'claimed', 'started'].includes(e.event)) continue;
    const asked = added.find((a) => a.id === undefined && shortName(a.name) === e.stream);
    // The producer was told the add did not reach a replica (addStream's `replicas`): it may vanish
    // with a failover, and a producer adds it again; counted as uncertain, not as an entry.
    if (asked?.error !== undefined && / replicas in time/.test(asked.error)) continue;
    entries.set(e.id, { id: e.id, name: e.stream ?? '?', kind: asked?.kind ?? 'unconfirmed', at: asked?.requestedAt ?? e.at });
  }
  const seenNames = new Set([...entries.values()].map((e) => shortName(e.name)));
  const uncertainAdds = added.filter((a) => a.id === undefined && !seenNames.has(shortName(a.name))).length;

  const finishedAt = new Map<string, number[]>();
  for (const e of events) if (e.event === 'finished') finishedAt.set(e.id!, [...(finishedAt.get(e.id!) ?? []), e.at]);
  // On a Cluster two LBS entries added to different partitions in the same millisecond share an
  // id: an entry finished twice is one whose data stream finished it twice.
  const finishesOf = new Map<string, number>();
  for (const e of events) if (e.event === 'finished') finishesOf.set(`${e.id!} ${e.stream ?? ''}`, (finishesOf.get(`${e.id!} ${e.stream ?? ''}`) ?? 0) + 1);
  const finishedTwiceIds = new Set([...finishesOf].filter(([, n]) => n > 1).map(([key]) => key.slice(0, key.indexOf(' '))));
  const dead = new Map(state.dead.map((d) => [d.sourceId, d]));

  const vanishedIds = new Set<string>();
  if (fault.dataLostAt !== undefined) {
    for (const entry of entries.values()) {
      const done = finishedAt.get(entry.id)?.some((t) => t <= fault.dataLostAt!) || dead.has(entry.id);
      if (entry.at <= fault.dataLostAt && !done) vanishedIds.add(entry.id);
    }
  }

  const lostIds: string[] = [];
  const finishedUnconfirmed: string[] = [];
  const workDone = new Map<string, Set<number>>();
  for (const e of events) if (e.event === 'work-done') workDone.set(e.id!, (workDone.get(e.id!) ?? new Set()).add(e.pid));
  const diedWith = (id: string): boolean => windows.some((w) => w.id === id && w.how === 'killed' && (workDone.get(id)?.has(w.pid) ?? false));
  const redisAcknowledgedAll = state.xlen === 0 && state.pending === 0;
  const finishedTwice: string[] = [];
  const wrongDeadLetters: string[] = [];
  let finished = 0;
  let deadLettered = 0;
  /** finished LBS entries (also unconfirmed ones): their data streams' entries are checked */
  const checked = new Map<string, string>();
  for (const entry of entries.values()) {
    if (vanishedIds.has(entry.id)) continue;
    const times = finishedAt.get(entry.id) ?? [];
    const d = dead.get(entry.id);
    const label = `${entry.id} (${shortName(entry.name).slice(0, 40)}, ${entry.kind})`;
    if (finishedTwiceIds.has(entry.id)) finishedTwice.push(label);
    if (d !== undefined) {
      deadLettered++;
      const allowed = input.mustDeadLetter.includes(entry.kind) || (input.mayDeadLetter ?? []).includes(entry.kind);
      if (!allowed || d.reason === '') wrongDeadLetters.push(`${label} dead-lettered: ${d.reason || '(no reason)'}`);
      if (times.length > 0) failures.push(`${label} both finished and dead-lettered`);
    } else if (times.length > 0) {
      finished++;
      checked.set(entry.id, entry.name);
      if (input.mustDeadLetter.includes(entry.kind)) wrongDeadLetters.push(`${label} was processed, but must be dead-lettered`);
    } else if (redisAcknowledgedAll && diedWith(entry.id)) {
      finished++;
      checked.set(entry.id, entry.name);
      finishedUnconfirmed.push(label);
    } else {
      lostIds.push(redisAcknowledgedAll ? `${label} (acknowledged in Redis, never processed to the end)` : label);
    }
  }

  const duplicateBoundMs = hbInterval + fault.pauseMs;
  // By name and id: on a Cluster two partitions' LBSes can give two streams' entries the same id.
  const duplicate = maxOverlap(windows, (w) => `${w.name} ${w.id}`);
  const sameNameOverlap = maxOverlap(windows, (w) => w.name, 'other-process');
  const sameNameInProcess = maxOverlap(windows, (w) => w.name, 'same-process');

  const staleStarts = windows.filter((w) => (finishedAt.get(w.id) ?? []).some((t) => t < w.start));

  // Recovery: entries whose window was open on a hit process when the fault came, and ended unfinished.
  const hit = (pid: number): boolean => fault.targets === 'all' || fault.targets.includes(pid);
  const unconfirmedIds = new Set(finishedUnconfirmed.map((label) => label.split(' ')[0]));
  const interrupted = windows.filter(
    (w) => hit(w.pid) && w.start <= fault.at && w.end > fault.at && w.how !== 'finished' && !vanishedIds.has(w.id) && !unconfirmedIds.has(w.id),
  );
  const recoveryMs: number[] = [];
  const unrecovered: string[] = [];
  for (const w of interrupted) {
    const next = windows.find((o) => o.id === w.id && o.start > fault.at && o !== w && (o.pid !== w.pid || o.start >= w.end));
    if (next === undefined) unrecovered.push(w.id);
    else recoveryMs.push(next.start - fault.at);
  }
  const takenUpBy = { claim: 0, added: 0 };
  for (const id of new Set(interrupted.map((w) => w.id))) {
    const first = events.filter((e) => e.id === id && e.at > fault.at && (e.event === 'claimed' || e.event === 'added')).sort((a, b) => a.at - b.at)[0];
    if (first?.event === 'claimed') takenUpBy.claim++;
    else if (first?.event === 'added') takenUpBy.added++;
  }
  const interruptedRestarts: Record<string, number> = {};
  for (const w of interrupted) interruptedRestarts[w.id] = windows.filter((o) => o.id === w.id && o !== w && o.start > fault.at).length;
  const handOutMs: number[] = [];
  for (const entry of entries.values()) {
    if (entry.at < fault.at || entry.at > fault.endAt + hbInterval || vanishedIds.has(entry.id)) continue;
    const first = windows.find((w) => w.id === entry.id);
    if (first !== undefined) handOutMs.push(first.start - entry.at);
  }

  const written = new Map<string, readonly string[]>();
  for (const a of added) if (a.entries !== undefined && a.entries.length > 0) written.set(shortName(a.name), a.entries);
  // A primary failing over loses what it acknowledged in its last moments before the replica had it
  // (replication is asynchronous; a stopped primary keeps the commits sent to it until it wakes).
  const commitsMayVanish = input.writesMayVanish ? { from: fault.at - REPLICATION_LAG_MS, to: fault.endAt + REPLICATION_LAG_MS } : undefined;
  const entryAnalysis = analyseEntries({ checked: written.size > 0 ? checked : new Map(), written, events, commitEntries: input.commitEntries ?? Infinity, commitsMayVanish });
  failures.push(...entryAnalysis.failures);
  if (!input.settled) failures.push('did not settle: Redis still holds entries, pending entries or locks at the deadline');
  if (lostIds.length > 0) failures.push(`lost ${lostIds.length}: ${lostIds.slice(0, 5).join(', ')}`);
  if (finishedTwice.length > 0) failures.push(`finished more than once: ${finishedTwice.slice(0, 5).join(', ')}`);
  if (wrongDeadLetters.length > 0) failures.push(`dead-letters: ${wrongDeadLetters.slice(0, 5).join('; ')}`);
  if (duplicate.ms > duplicateBoundMs) failures.push(`duplicate ownership ${duplicate.ms} ms > bound ${duplicateBoundMs} ms: ${describeOverlap(duplicate)}`);
  if (state.xlen !== 0) failures.push(`XLEN ${state.xlen} (expected 0: dead-lettered entries are deleted from the LBS)`);
  if (state.pending > 0) failures.push(`XPENDING ${state.pending} (expected 0)`);
  if (state.locks.length > 0) failures.push(`${state.locks.length} lock(s) left: ${state.locks.slice(0, 3).join(', ')}`);
  for (const w of windows.filter((x) => x.how === 'open')) failures.push(`window still open at the end: ${w.id} on ${w.consumer}`);

  return {
    streams: entries.size,
    vanished: vanishedIds.size,
    finished,
    deadLettered,
    finishedUnconfirmed,
    lost: lostIds.length,
    lostIds,
    finishedTwice,
    wrongDeadLetters,
    duplicate,
    duplicateBoundMs,
    sameNameOverlap,
    sameNameInProcess,
    staleStarts,
    interrupted,
    interruptedRestarts,
    takenUpBy,
    recoveryMs,
    unrecovered,
    handOutMs,
    uncertainAdds,
    windows,
    entries: entryAnalysis,
    failures,
  };
};

export const describeOverlap = (o: Overlap): string =>
  o.a === undefined || o.b === undefined
    ? 'none'
    : `${o.a.id} "${o.a.name.slice(0, 40)}" held by ${o.a.consumer}[${o.a.pid}] ${o.a.start}..${o.a.end} (${o.a.how}) and ${o.b.consumer}[${o.b.pid}] ${o.b.start}..${o.b.end} (${o.b.how})`;
