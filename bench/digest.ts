// The quarantine digest job at size: BENCH_SCALE x 10,000 recipients with BENCH_SCALE x
// 100,000 held messages, run the way an admin runs it (`hermes digest run`, the built
// CLI, in its own process: real DKIM signing, real spool writes and queue rows), with
// its progress lines shown as they come; then the same job again when nothing is new
// (the cost of looking). Reports wall time, CPU, peak RSS of the job's process, and
// what it wrote.
//
//   npm run bench:portal-digest
//   BENCH_SCALE=0.1      a tenth of the size (1,000 recipients, 10,000 messages)
//
// The held messages are written straight into the quarantine index (in batches, through
// Kysely): holding 100,000 messages through SMTP would take hours and measure the
// pipeline (bench:relay does that). Their spread is uneven like real mail: most
// recipients have a few, one in a hundred has over a hundred (the digest lists 100 and
// counts the rest); some chose weekly digests and had one yesterday (not due), some
// chose never, some read German or French.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { initDataDir } from '../src/cli/init-command.ts';
import { loadConfig } from '../src/config/bootstrap.ts';
import { setSettings } from '../src/config/settings.ts';
import { openDatabase, type Db } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { upsertRelayDomain } from '../src/db/repos/relay-policy.ts';
import { HERMES_BIN, REPO_ROOT } from '../test/helpers/gateway.ts';
import { RssPoller, sampleTree } from './proc-stats.ts';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
if (!(SCALE > 0)) throw new Error('BENCH_SCALE must be a positive number');
const RECIPIENTS = Math.max(10, Math.round(10_000 * SCALE));
const MESSAGES = Math.max(100, Math.round(100_000 * SCALE));
const BATCH = 500;
const NOW = Date.now();
const DAY = 86_400_000;

const rcpt = (i: number) => `user${String(i).padStart(6, '0')}@example.com`;
const qid = (i: number) => `Q${i.toString(36).toUpperCase().padStart(11, '0')}`;
/** The first 90% of messages round-robin over everyone; the last 10% to the first 1% (the heavy few). */
const recipientOf = (i: number) => (i >= MESSAGES * 0.9 ? i % Math.max(1, Math.floor(RECIPIENTS / 100)) : i % RECIPIENTS);

async function fill(db: Db): Promise<void> {
  const t0 = performance.now();
  for (let from = 0; from < MESSAGES; from += BATCH) {
    const ids = Array.from({ length: Math.min(BATCH, MESSAGES - from) }, (_, k) => from + k);
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('quarantine')
        .values(
          ids.map((i) => {
            // Held over the last 23 hours: all new since a daily digest a day ago.
            const at = NOW - 23 * 3_600_000 + Math.floor((i / MESSAGES) * 23 * 3_600_000);
            const category = i % 13 === 0 ? 'malware' : i % 11 === 0 ? 'banned' : 'spam';
            return {
              id: qid(i), message_id: `M${qid(i).slice(1)}`, received_at: at - 200, held_at: at, direction: 'inbound' as const, mail_from: `sender${i % 5000}@sender.test`,
              header_from: `"Sender ${i % 5000}" <sender${i % 5000}@sender.test>`, subject: `Offer number ${i}: <b>limited</b> & "exclusive"`, message_id_header: `<${i}@sender.test>`,
              category, score: category === 'spam' ? 5 + (i % 20) : null, symbols: '[]', reason: category === 'spam' ? 'spam score' : category, size: 4000 + (i % 9000), file: '', state: 'held' as const, updated_at: at,
            };
          }),
        )
        .execute();
      await trx
        .insertInto('quarantine_recipients')
        .values(ids.map((i) => ({ quarantine_id: qid(i), address: rcpt(recipientOf(i)), state: 'held' as const, released_at: null, released_as: null })))
        .execute();
    });
    if ((from / BATCH) % 40 === 0) process.stdout.write(`\r  filling: ${from.toLocaleString()} / ${MESSAGES.toLocaleString()} held messages`);
  }
  // Choices of some recipients: 10% weekly with a digest yesterday (not due), 5% never,
  // 10% German, 5% French; everyone else had a daily digest a day ago.
  for (let from = 0; from < RECIPIENTS; from += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, RECIPIENTS - from) }, (_, k) => from + k).map((i) => ({
      address: rcpt(i),
      digest_frequency: i % 10 === 3 ? ('weekly' as const) : i % 20 === 7 ? ('never' as const) : null,
      language: i % 10 === 4 ? 'de' : i % 20 === 9 ? 'fr' : null,
      last_digest_at: i % 10 === 3 ? NOW - DAY / 2 : NOW - DAY,
      updated_at: NOW - DAY,
    }));
    await db.insertInto('recipient_prefs').values(rows).execute();
  }
  process.stdout.write(`\r  filled ${MESSAGES.toLocaleString()} held messages for ${RECIPIENTS.toLocaleString()} recipients in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

interface Run {
  wallS: number;
  cpuS: number;
  peakRssMiB: number;
  lastLine: string;
  code: number;
}

/** Runs the built CLI, echoing its lines, sampling its CPU and RSS. */
function runCli(args: string[], label: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(process.execPath, [HERMES_BIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = c.pid!;
    const poller = new RssPoller(() => [pid], 50, 1_000_000);
    let cpuMs = 0;
    const cpu = setInterval(() => (cpuMs = Math.max(cpuMs, sampleTree([pid]).cpuMs)), 50);
    let last = '';
    let err = '';
    let buf = '';
    c.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        last = line;
        console.log(`  [${label}] ${line}`);
      }
    });
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', reject);
    c.on('exit', (code) => {
      clearInterval(cpu);
      poller.stop();
      if (code !== 0) console.error(err.slice(-3000));
      resolve({ wallS: (performance.now() - t0) / 1000, cpuS: cpuMs / 1000, peakRssMiB: poller.peakBytes / 2 ** 20, lastLine: last, code: code ?? -1 });
    });
  });
}

function dirBytes(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    files++;
    bytes += statSync(join(e.parentPath, e.name)).size;
  }
  return { files, bytes };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hermes-bench-digest-'));
  try {
    await initDataDir({ dataDir, hostname: 'mx.bench.test', smtpPort: '2525', smtpHost: '127.0.0.1', httpPort: '8443', httpHost: '127.0.0.1', submissionPort: 'off', submissionsPort: 'off', acmeHttpPort: 'off', dns: '127.0.0.1:9' }, () => {});
    const cfg = loadConfig(dataDir);
    const db = openDatabase(cfg.storage.database);
    await migrate(db);
    await upsertRelayDomain(db, { domain: 'example.com', nextHop: '127.0.0.1:2526' });
    await setSettings(db, { 'notify.from': 'quarantine@example.com', 'portal.baseUrl': 'https://mail.example.com' });
    console.log(`bench:portal-digest: ${RECIPIENTS.toLocaleString()} recipients, ${MESSAGES.toLocaleString()} held messages (SQLite, ${dataDir})`);
    await fill(db);
    await db.destroy();
    const key = await runCli(['dkim', 'generate', 'example.com', '--selector', 'bench', '--data-dir', dataDir], 'dkim');
    if (key.code !== 0) throw new Error('dkim generate failed');

    const spoolBefore = dirBytes(cfg.storage.spool);
    console.log('running: hermes digest run');
    const first = await runCli(['digest', 'run', '--data-dir', dataDir], 'digest');
    if (first.code !== 0) throw new Error('hermes digest run failed');
    const spool = dirBytes(cfg.storage.spool);
    console.log('running: hermes digest run (again: nobody is due)');
    const second = await runCli(['digest', 'run', '--data-dir', dataDir], 'again');
    if (second.code !== 0) throw new Error('the second hermes digest run failed');

    const check = openDatabase(cfg.storage.database);
    const queued = Number((await check.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('direction', '=', 'outbound').executeTakeFirstOrThrow()).n);
    await check.destroy();
    const m = /done: (\d+) digests listing (\d+) messages to (\d+) recipients/.exec(first.lastLine);
    const digests = Number(m?.[1] ?? NaN);
    const listed = Number(m?.[2] ?? NaN);
    const seen = Number(m?.[3] ?? NaN);
    const again = /done: (\d+) digests/.exec(second.lastLine);
    const mail = spool.bytes - spoolBefore.bytes;
    const rows: Array<[string, string, string]> = [
      ['recipients with held mail', seen.toLocaleString(), ''],
      ['digests sent (queued, DKIM-signed)', digests.toLocaleString(), `queue rows ${queued.toLocaleString()}`],
      ['messages listed or counted', listed.toLocaleString(), ''],
      ['digest run: wall time', `${first.wallS.toFixed(1)} s`, `${(digests / first.wallS).toFixed(0)} digests/s`],
      ['digest run: CPU time', `${first.cpuS.toFixed(1)} s`, ''],
      ['digest run: peak RSS', `${first.peakRssMiB.toFixed(0)} MiB`, ''],
      ['spool written', `${(mail / 2 ** 20).toFixed(1)} MiB`, `${(spool.files - spoolBefore.files).toLocaleString()} files, ${(mail / Math.max(1, digests) / 1024).toFixed(1)} KiB per digest`],
      ['run again, nobody due: wall time', `${second.wallS.toFixed(1)} s`, `${again?.[1] ?? '?'} digests`],
      ['run again: peak RSS', `${second.peakRssMiB.toFixed(0)} MiB`, ''],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    console.log(`\nquarantine digest job, ${RECIPIENTS.toLocaleString()} recipients x ${MESSAGES.toLocaleString()} held messages (BENCH_SCALE=${SCALE})`);
    console.log(`${'what'.padEnd(w0)}  ${'value'.padStart(w1)}  notes`);
    for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`.trimEnd());
    if (digests !== queued) throw new Error(`the job said ${digests} digests but ${queued} are queued`);
  } finally {
    if (process.env.BENCH_KEEP) console.log(`kept ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
