// Where the time of the inbound pipeline goes: runs the gateway's own stage list (the
// one `hermes start` builds) in this process over corpus messages, one at a time, and
// prints the CPU and wall time of each stage per message. No SMTP and no delivery: this
// is the filter side of bench:relay's gw+filter row, taken apart.
//
//   npm run bench:pipeline
//   BENCH_MESSAGES=1000      how many corpus messages to time (spread over ham and spam)
//   BENCH_TRAIN=500          Bayes is trained first on this many spam and ham (the first files)
//   BENCH_ROUNDS=2           passes over the messages; the first one warms caches and JIT and is not counted
//   BENCH_EML=file.eml       time this one message (BENCH_MESSAGES times) instead of corpus mail
//   HERMES_SHARED_DIR=dir    shared data (default <repo>/../shared)
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../src/config/bootstrap.ts';
import { Gateway } from '../src/gateway.ts';
import { Pipeline } from '../src/pipeline/pipeline.ts';
import type { MessageContext, Stage } from '../src/pipeline/context.ts';
import { loadCorpus } from './smtp-driver.ts';
import { startTestDns } from '../test/helpers/dns-server.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const SHARED = process.env.HERMES_SHARED_DIR ?? path.join(REPO, '..', 'shared');
const CORPUS_DIR = path.join(SHARED, 'corpus', 'spamassassin');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1000);
const TRAIN = Number(process.env.BENCH_TRAIN ?? 500);
const ROUNDS = Math.max(2, Number(process.env.BENCH_ROUNDS ?? 2));
const FROM = 'sender@sender.test';
const RCPT = 'user@example.com';

interface StageTime {
  cpuUs: number;
  wallUs: number;
  runs: number;
}

const times = new Map<string, StageTime>();
let counting = false;

/** Wraps a stage so its CPU (this process: user + system) and wall time are added up. */
function timed(stage: Stage, prefix = ''): Stage {
  const name = `${prefix}${stage.name}`;
  return {
    name: stage.name,
    async run(ctx) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      await stage.run(ctx);
      if (!counting) return;
      const c = process.cpuUsage(c0);
      const t = times.get(name) ?? { cpuUs: 0, wallUs: 0, runs: 0 };
      t.cpuUs += c.user + c.system;
      t.wallUs += (performance.now() - w0) * 1000;
      t.runs++;
      times.set(name, t);
    },
  };
}

function hermes(args: string[], dataDir: string): void {
  execFileSync(process.execPath, [path.join(REPO, 'bin', 'hermes.js'), ...args, '--data-dir', dataDir], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function main(): Promise<void> {
  const dns = await startTestDns({
    'sender.test': { TXT: ['v=spf1 ip4:127.0.0.0/8 -all'], A: ['127.0.0.1'] },
    '_dmarc.sender.test': { TXT: ['v=DMARC1; p=none'] },
  });
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'hermes-bench-pipeline-'));
  try {
    console.log(`preparing ${dataDir}: init, relay domain, Bayes trained on ${TRAIN} spam + ${TRAIN} ham ...`);
    hermes(['init', '--hostname', 'mx.test.local', '--smtp-port', '2599', '--smtp-host', '127.0.0.1', '--dns', dns.server], dataDir);
    hermes(['domain', 'add', 'example.com', '--next-hop', '127.0.0.1:9'], dataDir);
    hermes(['filter-policy', 'set', 'default', '--quarantine', 'off', '--reject', 'off', '--banned', 'tag'], dataDir);
    const firstFiles = async (dir: string) => (await fsp.readdir(path.join(CORPUS_DIR, dir))).sort().slice(0, TRAIN).map((f) => path.join(CORPUS_DIR, dir, f));
    hermes(['bayes', 'learn', '--spam', '--quiet', ...(await firstFiles('spam'))], dataDir);
    hermes(['bayes', 'learn', '--ham', '--quiet', ...(await firstFiles('ham'))], dataDir);

    const log = pino({ level: 'silent' });
    const one = process.env.BENCH_EML ? Buffer.from((await fsp.readFile(process.env.BENCH_EML, 'latin1')).replace(/\r?\n/g, '\r\n'), 'latin1') : Buffer.alloc(0);
    const gw = await Gateway.open({ config: loadConfig(dataDir), log });
    const p = gw.pipeline;
    const pipeline = new Pipeline(
      p.stages.map((s) => timed(s)),
      p.perCopy.map((s) => timed(s, 'copy:')),
    );
    const eml = process.env.BENCH_EML;
    const corpus = eml ? Array.from({ length: MESSAGES }, () => one) : await loadCorpus(CORPUS_DIR, MESSAGES);
    const bytes = corpus.reduce((n, b) => n + b.length, 0);
    console.log(`${corpus.length} ${eml ? `copies of ${eml}` : 'corpus messages'}, ${(bytes / corpus.length / 1024).toFixed(1)} KiB average; ${ROUNDS - 1} timed round(s) after one warm-up\n`);

    let total = { cpuUs: 0, wallUs: 0, n: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      counting = round > 0;
      for (const [i, raw] of corpus.entries()) {
        const ctx: MessageContext = {
          id: `bench${round}x${i}`,
          receivedAt: new Date(),
          client: { ip: '127.0.0.1', helo: 'client.sender.test', ptr: null, tls: null, trusted: false },
          direction: 'inbound',
          mailFrom: FROM,
          recipients: [{ address: RCPT, route: 'host:127.0.0.1:9', requireTls: false }],
          original: raw,
          prepend: [],
          body: raw,
          reject: null,
          findings: {},
          log,
          trace: () => {},
        };
        const c0 = process.cpuUsage();
        const w0 = performance.now();
        await pipeline.run(ctx);
        if (counting) {
          const c = process.cpuUsage(c0);
          total = { cpuUs: total.cpuUs + c.user + c.system, wallUs: total.wallUs + (performance.now() - w0) * 1000, n: total.n + 1 };
        }
      }
    }
    await gw.stop(1000).catch(() => {});

    const rows = [...times].map(([name, t]) => ({ name, cpu: t.cpuUs / total.n, wall: t.wallUs / total.n, share: t.cpuUs / total.cpuUs }));
    const pad = (s: string, n: number) => s.padEnd(n);
    const num = (x: number, n: number) => x.toFixed(0).padStart(n);
    console.log(`${pad('stage', 22)} ${'CPU µs/msg'.padStart(10)} ${'wall µs/msg'.padStart(11)} ${'CPU share'.padStart(9)}`);
    console.log(`${'-'.repeat(22)} ${'-'.repeat(10)} ${'-'.repeat(11)} ${'-'.repeat(9)}`);
    for (const r of rows) console.log(`${pad(r.name, 22)} ${num(r.cpu, 10)} ${num(r.wall, 11)} ${`${(100 * r.share).toFixed(1)}%`.padStart(9)}`);
    console.log(`${pad('whole pipeline', 22)} ${num(total.cpuUs / total.n, 10)} ${num(total.wallUs / total.n, 11)} ${'100%'.padStart(9)}`);
    console.log(`\n=> ${((1e6 / (total.cpuUs / total.n))).toFixed(0)} messages/s per core for the pipeline alone (no SMTP, spool or delivery).`);
  } finally {
    await dns.close();
    await fsp.rm(dataDir, { recursive: true, force: true });
  }
}

await main();
