/**
 * The PostgreSQL side of the example: one table of effects (one row per entry applied) and one
 * row per data stream holding the highest fence and the last entry id applied. `apply` writes an
 * entry's effect in one transaction, only if the writer's fence is not lower than the stored one
 * and the entry comes after the last one applied: a stale owner (a lower fence) and a repeated
 * entry (an id not after the last) change nothing.
 */
import { Pool, PoolConfig } from 'pg';

export type ApplyResult = 'applied' | 'stale' | 'repeated';

/** Where the example connects: PG* environment variables, else 127.0.0.1:5432, database `test`, user `postgres`. */
export const pgConfig = (): PoolConfig => ({
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
  ...(process.env.PGPASSWORD === undefined ? {} : { password: process.env.PGPASSWORD }),
  connectionTimeoutMillis: 3000,
  // A consumer stopped (SIGSTOP) inside a transaction would hold its row lock for as long as it
  // sleeps: PostgreSQL ends such a session after 2 s, and the transaction rolls back.
  idle_in_transaction_session_timeout: 2000,
});

/** Table names of one run: `<prefix>_effects`, `<prefix>_progress`. */
export const tables = (prefix: string) => ({ effects: `${prefix}_effects`, progress: `${prefix}_progress` });

/** Creates the two tables (dropped first). */
export const createTables = async (pool: Pool, prefix: string): Promise<void> => {
  const t = tables(prefix);
  await pool.query(`DROP TABLE IF EXISTS ${t.effects}, ${t.progress}`);
  // No unique key on (stream, entry_id): the fence and the last id alone keep the effects exactly once, and the check can see it.
  await pool.query(`CREATE TABLE ${t.effects} (stream text NOT NULL, entry_id text NOT NULL, n integer NOT NULL, fence bigint NOT NULL, consumer text NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
  await pool.query(`CREATE TABLE ${t.progress} (stream text PRIMARY KEY, fence bigint NOT NULL, last_ms bigint NOT NULL, last_seq bigint NOT NULL)`);
};

export const dropTables = async (pool: Pool, prefix: string): Promise<void> => {
  const t = tables(prefix);
  await pool.query(`DROP TABLE IF EXISTS ${t.effects}, ${t.progress}`);
};

const parseId = (id: string): [bigint, bigint] => {
  const [ms, seq] = id.split('-');
  return [BigInt(ms!), BigInt(seq ?? '0')];
};

/** Applies one entry's effect, fenced; resolves what happened. */
export const apply = async (pool: Pool, prefix: string, write: { stream: string; entryId: string; n: number; fence: number; consumer: string }): Promise<ApplyResult> => {
  const t = tables(prefix);
  const [ms, seq] = parseId(write.entryId);
  const client = await pool.connect();
  // The server may end the session under a checked-out client (idle_in_transaction_session_timeout
  // after a SIGSTOP): the query in flight fails, and the client must not crash the process.
  const ignore = (): void => undefined;
  client.on('error', ignore);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${t.progress} (stream, fence, last_ms, last_seq) VALUES ($1, 0, 0, -1) ON CONFLICT (stream) DO NOTHING`, [write.stream]);
    const { rows } = await client.query<{ fence: string; last_ms: string; last_seq: string }>(`SELECT fence, last_ms, last_seq FROM ${t.progress} WHERE stream = $1 FOR UPDATE`, [write.stream]);
    const row = rows[0]!;
    const [lastMs, lastSeq] = [BigInt(row.last_ms), BigInt(row.last_seq)];
    const result: ApplyResult | undefined =
      BigInt(row.fence) > BigInt(write.fence) ? 'stale' : ms < lastMs || (ms === lastMs && seq <= lastSeq) ? 'repeated' : undefined;
    if (result !== undefined) {
      await client.query('ROLLBACK');
      return result;
    }
    await client.query(`INSERT INTO ${t.effects} (stream, entry_id, n, fence, consumer) VALUES ($1, $2, $3, $4, $5)`, [write.stream, write.entryId, write.n, write.fence, write.consumer]);
    await client.query(`UPDATE ${t.progress} SET fence = $2, last_ms = $3, last_seq = $4 WHERE stream = $1`, [write.stream, write.fence, ms.toString(), seq.toString()]);
    await client.query('COMMIT');
    return 'applied';
  } catch (err) {
    broken = err instanceof Error ? err : new Error(String(err));
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', ignore);
    client.release(broken); // a failed client is destroyed, not reused
  }
};

/** What the table holds: rows, entries applied more than once, and which of `expected` (stream -> ids) are missing. */
export const audit = async (pool: Pool, prefix: string, expected: ReadonlyMap<string, readonly string[]>) => {
  const t = tables(prefix);
  const { rows } = await pool.query<{ stream: string; entry_id: string; times: string }>(`SELECT stream, entry_id, count(*) AS times FROM ${t.effects} GROUP BY stream, entry_id`);
  const present = new Map(rows.map((r) => [`${r.stream} ${r.entry_id}`, Number(r.times)]));
  const duplicates = rows.filter((r) => Number(r.times) > 1).map((r) => `${r.stream} ${r.entry_id} ×${r.times}`);
  const missing: string[] = [];
  let total = 0;
  for (const [stream, ids] of expected) {
    total += ids.length;
    for (const id of ids) if (!present.has(`${stream} ${id}`)) missing.push(`${stream} ${id}`);
  }
  const rowCount = rows.reduce((sum, r) => sum + Number(r.times), 0);
  return { expected: total, rows: rowCount, duplicates, missing };
};
