import { expect } from 'chai';
import { Client } from 'pg';
import { runExample } from '../examples/postgres-exactly-once/main';
import { pgConfig } from '../examples/postgres-exactly-once/store';
import { sharedRedisUrl } from '../support/service';

/** True when the example's PostgreSQL answers (PG* variables, default 127.0.0.1:5432, database `test`). */
const postgresAnswers = async (): Promise<boolean> => {
  const client = new Client({ ...pgConfig(), connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
};

describe('examples/postgres-exactly-once', function () {
  this.timeout(90_000);

  before(async function () {
    if (!(await postgresAnswers())) {
      const c = pgConfig();
      console.log(`      no PostgreSQL answers at ${c.host}:${c.port} (database ${c.database}, user ${c.user}): skipping the example's spec`);
      this.skip();
    }
  });

  it('ends with every entry exactly once in the table while consumers are SIGKILLed and SIGSTOPped mid-stream', async () => {
    const lines: string[] = [];
    const result = await runExample({
      redisUrl: sharedRedisUrl(),
      consumers: 3,
      streams: 6,
      entriesPerStream: 120,
      entryMs: 40,
      faultEveryMs: 1000,
      hbInterval: 500,
      timeoutMs: 60_000,
      log: (line) => void lines.push(line),
    });
    expect(result.kills + result.stops, lines.join('\n')).to.be.greaterThanOrEqual(3);
    expect(result.missing, lines.join('\n')).to.deep.equal([]);
    expect(result.duplicates, lines.join('\n')).to.deep.equal([]);
    expect(result.rows).to.equal(6 * 120);
    expect(result.crashed, lines.join('\n')).to.deep.equal([]);
  });
});
