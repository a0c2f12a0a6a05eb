import type { DeadLetterView, Snapshot, StreamView } from './snapshot';

/** Columns padded to their widest cell, two spaces apart. */
export const table = (header: readonly string[], rows: readonly (readonly string[])[]): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
};

const ago = (ms: number | null): string => (ms === null ? '-' : ms < 1000 ? `${ms} ms ago` : `${(ms / 1000).toFixed(1)} s ago`);
const ttl = (ms: number | null): string => (ms === null ? '-' : `${ms} ms`);
const clip = (text: string, max = 60): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

const lagOf = (s: StreamView): string => (s.lag === undefined ? '-' : `${s.lag}${s.lagCapped ? '+' : ''}`);

const deadLetterRows = (letters: readonly DeadLetterView[]): string[][] =>
  letters.map((d) => [d.id, d.sourceId ?? '-', d.consumer ?? '-', clip(d.reason ?? '-', 80)]);

export const renderDeadLetters = (letters: readonly DeadLetterView[]): string =>
  letters.length === 0 ? '  (none)' : table(['id', 'source id', 'consumer', 'reason'], deadLetterRows(letters));

/** The text `inspect` prints (and redraws with --watch). */
export const renderSnapshot = (s: Snapshot): string => {
  const out: string[] = [];
  out.push(`service ${s.service}   ${s.at} (Redis clock)`);
  out.push(
    `LBS ${s.lbs.key}: ${s.lbs.length} entries, ${s.lbs.pending} pending` + (s.lbs.groupExists ? ` (group ${s.lbs.group})` : ` (no group ${s.lbs.group} yet: no consumer has started)`),
  );
  out.push('', `CONSUMERS (${s.consumers.length})`);
  out.push(
    s.consumers.length === 0
      ? '  (none)'
      : table(
          ['consumer', 'status', 'owned', 'pending', 'last heartbeat', 'lock set'],
          s.consumers.map((c) => [c.name, c.status, String(c.streamsOwned), String(c.pending), ago(c.lastHeartbeatAgoMs), c.lockSet ? 'yes' : 'no']),
        ),
  );
  out.push('', `STREAMS (${s.streams.length} handed out, not done)`);
  const withPositions = s.streams.some((x) => x.fence !== undefined || x.committed !== undefined);
  out.push(
    s.streams.length === 0
      ? '  (none)'
      : table(
          ['stream', 'LBS id', 'owner', 'lock TTL', 'state', ...(withPositions ? ['fence', 'committed', 'last entry', 'lag'] : [])],
          s.streams.map((x) => [
            clip(x.dataStreamName ?? '(entry gone)'),
            x.idInLbs,
            x.owner ?? `- (pending for ${x.consumer})`,
            ttl(x.lockTtlMs),
            x.state,
            ...(withPositions ? [x.fence ?? '-', x.committed ?? '-', x.lastEntryId ?? '-', lagOf(x)] : []),
          ]),
        ),
  );
  const shown = s.deadLetters.newest.length;
  out.push('', `DEAD LETTERS (${s.deadLetters.count} in ${s.deadLetters.key}${s.deadLetters.count > shown ? `; the newest ${shown}` : ''})`);
  out.push(renderDeadLetters(s.deadLetters.newest));
  return out.join('\n');
};
