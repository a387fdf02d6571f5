// How the console's lists hold up at size, through the REST API over HTTPS: with
// BENCH_ROWS messages in the trace and BENCH_ROWS in the quarantine, the time of the
// first page, a page deep into the list (reached by following cursors), a filter by
// recipient and one by time range; then the requests per second of a simple
// authenticated GET. Target: under 100 ms per list request.
//
//   npm run bench:console
//   BENCH_ROWS=1000000      rows in each of trace (messages) and quarantine
//   BENCH_DEEP=200          pages of 500 followed before timing the deep page (100,000 rows in)
//   BENCH_REPEAT=20         timed requests per query (after 3 untimed)
//   BENCH_RPS_SECONDS=5     how long the requests-per-second run lasts
//   BENCH_CONCURRENCY=16    requests in flight during it
//
// The rows are written straight into the tables (in batches, through Kysely): going
// through SMTP would take hours and measure something else (bench:relay does that).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { openDatabase, type Db } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { buildHttpServer } from '../src/http/server.ts';
import type { HttpContext } from '../src/http/context.ts';
import type { LoadedConfig } from '../src/config/bootstrap.ts';
import type { Gateway } from '../src/gateway.ts';
import { loadSettings } from '../src/config/settings.ts';
import { ensureMasterKey, loadMasterKey } from '../src/keys/master-key.ts';
import { cliActor } from '../src/services/actor.ts';
import { createToken } from '../src/services/token-service.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const DEEP = Number(process.env.BENCH_DEEP ?? 200);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 20);
const RPS_SECONDS = Number(process.env.BENCH_RPS_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const BATCH = 500;
const START = Date.UTC(2026, 0, 1);
/** One message every 10 s: 1M rows span about 116 days. */
const STEP_MS = 10_000;
const USERS = 1000;

const queueId = (i: number) => `B${i.toString(36).toUpperCase().padStart(11, '0')}`;
const rcpt = (i: number) => `user${i % USERS}@example.com`;

async function fill(db: Db): Promise<void> {
  const t0 = performance.now();
  for (let from = 0; from < ROWS; from += BATCH) {
    const ids = Array.from({ length: Math.min(BATCH, ROWS - from) }, (_, k) => from + k);
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('messages')
        .values(ids.map((i) => ({
          id: queueId(i), received_at: START + i * STEP_MS, node: 0, direction: 'inbound' as const, client_ip: `192.0.2.${i % 250}`, client_helo: 'mx.sender.test', client_ptr: null, tls: 'TLSv1.3',
          mail_from: `sender${i % 5000}@sender.test`, size: 2000 + (i % 5000), message_id: `<${i}@sender.test>`, subject: `Message number ${i}`, spool_file: '', state: 'done' as const, parent_id: null, done_at: START + i * STEP_MS + 500,
        })))
        .execute();
      await trx
        .insertInto('recipients')
        .values(ids.map((i) => ({ message_id: queueId(i), idx: 0, address: rcpt(i), domain: 'example.com', route: 'host:127.0.0.1:25', require_tls: 0, status: 'delivered' as const, attempts: 1, first_attempt_at: START + i * STEP_MS, next_attempt_at: 0, last_reply: '250 ok', updated_at: START + i * STEP_MS })))
        .execute();
      await trx
        .insertInto('quarantine')
        .values(ids.map((i) => ({
          id: `Q${queueId(i).slice(1)}`, message_id: queueId(i), received_at: START + i * STEP_MS, held_at: START + i * STEP_MS + 100, direction: 'inbound' as const, mail_from: `sender${i % 5000}@sender.test`,
          header_from: `sender${i % 5000}@sender.test`, subject: `Held message ${i}`, message_id_header: `<${i}@sender.test>`, category: i % 7 === 0 ? 'malware' : 'spam', score: 5 + (i % 20), symbols: '[]', reason: 'spam score', size: 2000, file: '', state: 'held' as const, updated_at: START + i * STEP_MS,
        })))
        .execute();
      await trx
        .insertInto('quarantine_recipients')
        .values(ids.map((i) => ({ quarantine_id: `Q${queueId(i).slice(1)}`, address: rcpt(i), state: 'held' as const, released_at: null, released_as: null })))
        .execute();
    });
    if ((from / BATCH) % 200 === 0) process.stderr.write(`\r  filling: ${from.toLocaleString()} / ${ROWS.toLocaleString()}`);
  }
  process.stderr.write(`\r  filled ${ROWS.toLocaleString()} messages and ${ROWS.toLocaleString()} held messages in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}

interface Answer {
  status: number;
  body: string;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-bench-console-'));
  const db = openDatabase(join(dir, 'hermes.db'));
  try {
    await migrate(db);
    ensureMasterKey(join(dir, 'master.key'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    console.log(`bench:console: ${ROWS.toLocaleString()} rows in the trace and in the quarantine (SQLite, ${dir})`);
    await fill(db);
    const ctx: HttpContext = {
      db,
      config: { dnsServers: ['127.0.0.1:9'] } as unknown as LoadedConfig,
      log: pino({ level: 'silent' }),
      masterKey: () => loadMasterKey(join(dir, 'master.key')),
      settings: () => loadSettings(db),
      // The quarantine routes want a running gateway's store for release and rendering;
      // listing reads the index in the database only, so a stand-in without a store does.
      gateway: { quarantine: { service: null } } as unknown as Gateway,
      smtpListening: () => true,
    };
    const app = await buildHttpServer({ ctx, tls: { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, consoleDir: dir });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const token = (await createToken(db, cliActor(), { name: 'bench', role: 'admin' })).token;
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, rejectUnauthorized: false });
    const get = (path: string): Promise<Answer> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
    const page = async (path: string) => {
      const r = await get(path);
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.body.slice(0, 300)}`);
      return JSON.parse(r.body) as { items: unknown[]; nextCursor: string | null };
    };
    const deepCursor = async (list: string) => {
      let cursor: string | null = null;
      for (let i = 0; i < DEEP; i++) cursor = (await page(`${list}?limit=500${cursor ? `&cursor=${cursor}` : ''}`)).nextCursor;
      return cursor!;
    };
    const time = async (label: string, path: string) => {
      let items = 0;
      for (let i = 0; i < 3; i++) items = (await page(path)).items.length;
      const ms: number[] = [];
      for (let i = 0; i < REPEAT; i++) {
        const t = performance.now();
        await page(path);
        ms.push(performance.now() - t);
      }
      ms.sort((a, b) => a - b);
      const median = ms[Math.floor(ms.length / 2)]!;
      const p95 = ms[Math.min(ms.length - 1, Math.ceil(ms.length * 0.95) - 1)]!;
      console.log(`  ${label.padEnd(44)} ${median.toFixed(1).padStart(7)} ms median ${p95.toFixed(1).padStart(7)} ms p95  (${items} rows)  ${median < 100 ? 'ok' : 'OVER 100 ms'}`);
    };
    const mid = START + Math.floor(ROWS / 2) * STEP_MS;
    const range = `from=${new Date(mid).toISOString()}&to=${new Date(mid + 3_600_000).toISOString()}`;
    for (const [name, list, recipientParam] of [['trace', '/api/v1/trace', 'address'], ['quarantine', '/api/v1/quarantine', 'recipient']] as const) {
      console.log(`${name} (${list}, 50 rows a page):`);
      await time('first page', `${list}?limit=50`);
      const t = performance.now();
      const cursor = await deepCursor(list);
      const walk = performance.now() - t;
      await time(`page ${(DEEP * 500).toLocaleString()} rows deep`, `${list}?limit=50&cursor=${cursor}`);
      console.log(`  ${'(following the cursors there: ' + DEEP + ' pages of 500'}, ${(walk / DEEP).toFixed(1)} ms a page)`);
      await time(`filter by recipient (1 in ${USERS})`, `${list}?limit=50&${recipientParam}=${rcpt(12345)}`);
      await time('filter by time range (1 hour, mid-list)', `${list}?limit=50&${range}`);
    }
    // Requests per second of a simple authenticated GET (token check, permission, one small query).
    let done = 0;
    const end = performance.now() + RPS_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < end) {
          const r = await get('/api/v1/domains?limit=1');
          if (r.status !== 200) throw new Error(`GET /api/v1/domains: ${r.status} ${r.body}`);
          done++;
        }
      }),
    );
    console.log(`authenticated GET /api/v1/domains?limit=1: ${(done / RPS_SECONDS).toFixed(0)} requests/s (${CONCURRENCY} in flight, ${RPS_SECONDS} s, one process)`);
    agent.destroy();
    await app.close();
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
