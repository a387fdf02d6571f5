// Relay benchmark (`npm run bench:relay`): the same loads through our gateway and
// through a private stock Postfix relay, both relaying to Postfix's smtp-sink, in one
// run, on this machine and disk. A third system, postfix+rspamd, is that Postfix with
// Rspamd 3.4 as its milter (stock modules, DNS to the bench's local server, Bayes in a
// private Redis trained like gw+filter's, DKIM signing; see bench/lib/rspamd-peer.ts):
// the content-filtering stack the gateway's gw+filter row is compared with. It needs
// `apt-get install rspamd redis-server` (not installed by scripts/install-peers.sh, as
// no test needs Redis); without them it is skipped with a note, or fails if asked for.
//
//   sender (smtp-source, or bench/smtp-driver.ts for the corpus) --> relay --> smtp-sink
//
// Per load and system it prints: messages, elapsed seconds and messages/s end to end
// (from the first message sent until the sink has counted all of them), the rate at
// which the relay accepted them (sender finished), relay CPU ms per message (all of
// the relay's processes, from /proc), peak RSS of the relay (summed over its
// processes, polled every 100 ms) and the ratio to Postfix's end-to-end rate; gateway
// rows also show their ratio to the plain gateway and to postfix+rspamd.
//
// Environment:
//   BENCH_SCALE=0.1          scale message counts (quick run)
//   BENCH_LOADS=10k,100k,corpus   which loads (default: all three)
//   BENCH_SYSTEMS=postfix,postfix+rspamd,gateway  which systems (default: all three)
//   BENCH_RSPAMD_WORKERS=n   Rspamd normal (scanning) workers (default: stock, one)
//   BENCH_SCENARIOS=name,...  which gateway scenarios (default: all)
//   BENCH_WARMUP=100         messages sent (unmeasured) before each measurement
//   BENCH_REPEAT=3           run each measurement N times and show the median run
//   BENCH_REUSE=1            keep SMTP connections (smtp-source -d) instead of one per message
//   BENCH_TIMEOUT_S=300      give up waiting for the sink this long after the sender ends
//   BENCH_JSON=path          also write the results as JSON
//   BENCH_KEEP=1             keep the work directory (logs, spools) for inspection
//   BENCH_WORK_DIR=dir       where to put it (default: the OS temp dir, same disk here)
//   BENCH_CPU_PROF=dir       write a V8 CPU profile of each gateway process there (open in Chrome DevTools)
//   HERMES_SHARED_DIR=dir    shared data (default <repo>/../shared) for the corpus load
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, promises as fsp, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  descendantPids,
  findFreePort,
  isGone,
  killAllPeers,
  runSmtpSource,
  startPostfixRelay,
  startSmtpSink,
  waitForSmtpGreeting,
} from '../test/helpers/peers.ts';
import { hostCpu, hostCpuPercent, RssPoller, sampleTree } from './proc-stats.ts';
import { driveSmtp, loadCorpus } from './smtp-driver.ts';
import { startTestDns, type TestDns } from '../test/helpers/dns-server.ts';
import { rspamdPeerMissing, startRspamdPeer, type RspamdPeer } from './lib/rspamd-peer.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const env = process.env;
const SCALE = Number(env.BENCH_SCALE ?? 1);
const WARMUP = Number(env.BENCH_WARMUP ?? 100);
const REUSE = env.BENCH_REUSE === '1';
const REPEAT = Math.max(1, Math.floor(Number(env.BENCH_REPEAT ?? 1)));
const TIMEOUT_MS = Number(env.BENCH_TIMEOUT_S ?? 300) * 1000;
const SHARED = path.resolve(env.HERMES_SHARED_DIR ?? path.join(REPO, '..', 'shared'));
const CORPUS_DIR = path.join(SHARED, 'corpus', 'spamassassin');
const SESSIONS = 20;
const FROM = 'sender@sender.test';
const TO = 'rcpt@example.com';
const RELAY_DOMAIN = 'example.com';

if (!(SCALE > 0)) throw new Error(`BENCH_SCALE must be a positive number, not ${env.BENCH_SCALE}`);
const scaled = (n: number) => Math.max(1, Math.round(n * SCALE));
const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

// ---------------------------------------------------------------------------
// Loads

interface Load {
  id: string;
  label: string;
  messages: number;
  /** Sends `count` messages of this load (count < messages for the warm-up). */
  send(port: number, count: number): Promise<SendResult>;
}

interface SendResult {
  accepted: number;
  elapsedMs: number;
  error?: string;
}

function smtpSourceLoad(id: string, label: string, messages: number, sizeBytes: number): Load {
  return {
    id,
    label,
    messages,
    async send(port, count) {
      const r = await runSmtpSource({
        host: '127.0.0.1',
        port,
        messages: count,
        sessions: SESSIONS,
        sizeBytes,
        from: FROM,
        to: TO,
        reuseConnection: REUSE,
        timeoutMs: TIMEOUT_MS + 600_000,
      });
      // smtp-source stops at the first unexpected reply and does not say how many
      // messages got through; on failure the caller waits for what it can count.
      return r.exitCode === 0
        ? { accepted: count, elapsedMs: r.elapsedMs }
        : { accepted: count, elapsedMs: r.elapsedMs, error: `smtp-source exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(0, 300)}` };
    },
  };
}

async function corpusLoad(): Promise<Load | string> {
  if (!existsSync(path.join(CORPUS_DIR, 'ham'))) return `corpus load skipped: ${CORPUS_DIR} not found (set HERMES_SHARED_DIR)`;
  const total = (await fsp.readdir(path.join(CORPUS_DIR, 'ham'))).length + (await fsp.readdir(path.join(CORPUS_DIR, 'spam'))).length;
  const messages = await loadCorpus(CORPUS_DIR, scaled(total));
  const bytes = messages.reduce((a, m) => a + m.length, 0);
  return {
    id: 'corpus',
    label: `corpus ${Math.round(bytes / messages.length / 1024)} KiB avg`,
    messages: messages.length,
    async send(port, count) {
      const r = await driveSmtp({
        host: '127.0.0.1',
        port,
        sessions: SESSIONS,
        messages: messages.slice(0, count),
        from: FROM,
        to: [TO],
        reuseConnection: REUSE,
      });
      const problems = [...r.errors].map(([k, v]) => `${v}x ${k}`).join('; ');
      return {
        accepted: r.accepted,
        elapsedMs: r.elapsedMs,
        error: r.rejected + r.failed > 0 ? `${r.rejected} rejected, ${r.failed} failed: ${problems}` : undefined,
      };
    },
  };
}

// ---------------------------------------------------------------------------
// Systems under test

interface RunningRelay {
  port: number;
  /** Root PIDs; CPU and RSS are summed over them and all their descendants. */
  roots(): number[];
  stop(): Promise<void>;
  /** For relays with a content filter: how many messages it has scanned so far. */
  scanned?(): Promise<number>;
}

interface System {
  name: string;
  start(ctx: { workDir: string; sinkPort: number }): Promise<RunningRelay>;
}

const postfixSystem: System = {
  name: 'postfix',
  async start({ workDir, sinkPort }) {
    const port = await findFreePort();
    const relay = await startPostfixRelay({
      listenPort: port,
      relayDomain: RELAY_DOMAIN,
      nextHop: { host: '127.0.0.1', port: sinkPort },
      workDir: path.join(workDir, 'postfix'),
    });
    return { port, roots: () => [relay.masterPid], stop: () => relay.stop() };
  },
};

// Postfix with Rspamd as its milter. Rspamd (with its Redis) starts once per bench run,
// on first use, and is trained then; each measurement gets a fresh Postfix.
let rspamdPeer: Promise<RspamdPeer> | null = null;
const BAYES_TRAIN = 500;

function sharedRspamd(workRoot: string): Promise<RspamdPeer> {
  rspamdPeer ??= (async () => {
    const dns = await benchDnsServer();
    const workers = env.BENCH_RSPAMD_WORKERS ? Number(env.BENCH_RSPAMD_WORKERS) : undefined;
    const peer = await startRspamdPeer({ dir: path.join(workRoot, 'rspamd'), dnsServer: dns.server, signDomain: FROM.split('@')[1]!, normalWorkers: workers });
    cleanups.add(peer.kill);
    try {
      // As gw+filter's Bayes: the first 500 spam and 500 ham of the corpus (by file name).
      for (const kind of ['spam', 'ham'] as const) {
        const files = (await fsp.readdir(path.join(CORPUS_DIR, kind))).sort().slice(0, BAYES_TRAIN).map((f) => path.join(CORPUS_DIR, kind, f));
        const learned = await peer.learn(kind, files);
        process.stderr.write(`  rspamd learned ${learned} of ${files.length} ${kind}\n`);
        if (learned < 200) throw new Error(`rspamd learned only ${learned} ${kind} messages (Bayes needs 200)\n${await peer.logTail()}`);
      }
    } catch (e) {
      await peer.stop();
      throw e;
    }
    return peer;
  })();
  return rspamdPeer;
}

async function stopSharedRspamd(): Promise<void> {
  const peer = await rspamdPeer?.catch(() => undefined);
  if (!peer) return;
  await peer.stop();
  cleanups.delete(peer.kill);
}

const postfixRspamdSystem: System = {
  name: 'postfix+rspamd',
  async start({ workDir, sinkPort }) {
    const rspamd = await sharedRspamd(path.dirname(workDir));
    const port = await findFreePort();
    const relay = await startPostfixRelay({
      listenPort: port,
      relayDomain: RELAY_DOMAIN,
      nextHop: { host: '127.0.0.1', port: sinkPort },
      workDir: path.join(workDir, 'postfix'),
      mainCf: {
        smtpd_milters: `inet:127.0.0.1:${rspamd.milterPort}`,
        milter_default_action: 'accept',
        milter_protocol: '6',
      },
    });
    return { port, roots: () => [relay.masterPid, ...rspamd.roots()], stop: () => relay.stop(), scanned: () => rspamd.scanned() };
  },
};

/** What a gateway scenario gets to set itself up, between `hermes init` and `hermes start`. */
export interface GatewayContext {
  dataDir: string;
  smtpPort: number;
  sinkPort: number;
  /** Runs `hermes ARGS` (the built CLI) to completion; returns its output, throws on failure. */
  hermes(args: string[]): Promise<string>;
}

/**
 * A gateway row of the table. Later work adds rows such as "inbound with
 * verification" or "outbound with DKIM signing": give it a name and a prepare()
 * that configures the data directory through the CLI. The load always sends
 * sender@sender.test -> rcpt@example.com from 127.0.0.1.
 */
export interface GatewayScenario {
  name: string;
  prepare(ctx: GatewayContext): Promise<void>;
  /** Extra environment for `hermes start`. */
  env?: NodeJS.ProcessEnv;
}

/** The load's recipient domain, relayed to this run's sink. */
const relayToSink = (ctx: GatewayContext) => ctx.hermes(['domain', 'add', RELAY_DOMAIN, '--next-hop', `127.0.0.1:${ctx.sinkPort}`, '--data-dir', ctx.dataDir]);

/** The gateway core only: no sender verification, no content filter (as Postfix is here). */
async function plainRelay(ctx: GatewayContext): Promise<void> {
  await relayToSink(ctx);
  await ctx.hermes(['settings', 'set', 'auth.verify', 'false', '--data-dir', ctx.dataDir]);
  await ctx.hermes(['settings', 'set', 'filter.enabled', 'false', '--data-dir', ctx.dataDir]);
}

/** Outbound mail from a relay network, DKIM-signed (RSA-2048) with a key of the sender's domain. */
async function signedOutbound(ctx: GatewayContext): Promise<void> {
  await relayToSink(ctx);
  await ctx.hermes(['network', 'add', '127.0.0.0/8', '--data-dir', ctx.dataDir]);
  await ctx.hermes(['dkim', 'generate', FROM.split('@')[1]!, '--data-dir', ctx.dataDir]);
  await ctx.hermes(['settings', 'set', 'filter.enabled', 'false', '--data-dir', ctx.dataDir]);
}

export const gatewayScenarios: GatewayScenario[] = [
  {
    // Plain relay: the gateway core only (no sender verification), as Postfix is here.
    name: 'gateway',
    async prepare(ctx) {
      await plainRelay(ctx);
      if (process.env.BENCH_DEST_CONC) await ctx.hermes(['settings', 'set', 'delivery.concurrencyPerDestination', process.env.BENCH_DEST_CONC, '--data-dir', ctx.dataDir]);
    },
  },
  {
    // Plain relay in one process (no cluster workers): shows what the workers add.
    name: 'gw-1proc',
    async prepare(ctx) {
      await plainRelay(ctx);
      const file = path.join(ctx.dataDir, 'hermes.json');
      await fsp.writeFile(file, JSON.stringify({ ...JSON.parse(await fsp.readFile(file, 'utf8')), workers: 1 }, null, 2));
    },
  },
  {
    // Inbound with sender verification: SPF, DKIM, DMARC, ARC through the local DNS server.
    name: 'gw+verify',
    async prepare(ctx) {
      await relayToSink(ctx);
      await ctx.hermes(['settings', 'set', 'filter.enabled', 'false', '--data-dir', ctx.dataDir]);
    },
  },
  {
    // Outbound from a relay network with DKIM signing (RSA-2048) of the sender's domain.
    name: 'gw+dkim-sign',
    async prepare(ctx) {
      await signedOutbound(ctx);
    },
  },
  {
    // As gw+dkim-sign, plus a disclaimer on every message (the modify stage: MIME split,
    // text part changed, joined), signed after the change. The load's recipient domain is
    // a relay domain here (that is how mail reaches the sink), so the rule is --internal.
    name: 'gw+disclaimer+dkim',
    async prepare(ctx) {
      await signedOutbound(ctx);
      await ctx.hermes(['disclaimer', 'template', 'set', 'legal', '--text', 'This message is confidential and intended only for {{sender.domain}} correspondents.', '--html', '<p style="color:#666">This message is confidential.</p>', '--data-dir', ctx.dataDir]);
      await ctx.hermes(['disclaimer', 'rule', 'add', '--template', 'legal', '--all', '--internal', '--data-dir', ctx.dataDir]);
    },
  },
  {
    // The full inbound pipeline: verification, lists, built-in malware check, file rules,
    // spam engine with a trained Bayes classifier (500 spam, 500 ham of the corpus) and
    // the DNS blocklist check (local DNS), message rules, decide, trace. The default
    // policy is set to tag only (no quarantine, no reject; a banned attachment, which
    // the corpus has, is tagged) so every message reaches the sink and is counted.
    name: 'gw+filter',
    async prepare(ctx) {
      await relayToSink(ctx);
      await ctx.hermes(['filter-policy', 'set', 'default', '--quarantine', 'off', '--reject', 'off', '--banned', 'tag', '--data-dir', ctx.dataDir]);
      const firstFiles = async (dir: string, n: number) => (await fsp.readdir(path.join(CORPUS_DIR, dir))).sort().slice(0, n).map((f) => path.join(CORPUS_DIR, dir, f));
      await ctx.hermes(['bayes', 'learn', '--spam', '--quiet', ...(await firstFiles('spam', 500)), '--data-dir', ctx.dataDir]);
      await ctx.hermes(['bayes', 'learn', '--ham', '--quiet', ...(await firstFiles('ham', 500)), '--data-dir', ctx.dataDir]);
    },
  },
];

/** The local DNS server every benchmarked gateway uses (no lookups leave the machine). */
let benchDns: TestDns | null = null;
async function benchDnsServer(): Promise<TestDns> {
  const senderDomain = FROM.split('@')[1]!;
  benchDns ??= await startTestDns({
    [senderDomain]: { TXT: ['v=spf1 ip4:127.0.0.0/8 -all'], A: ['127.0.0.1'] },
    [`_dmarc.${senderDomain}`]: { TXT: ['v=DMARC1; p=none'] },
  });
  return benchDns;
}

/** Runs the built CLI the way `npx hermes` does, minus the npx wrapper process. */
const HERMES_ARGV = [path.join(REPO, 'bin', 'hermes.js')];
const PROFILE_ARGV = env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(env.BENCH_CPU_PROF)}`] : [];

function runHermes(args: string[], logFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...HERMES_ARGV, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      void fsp.appendFile(logFile, `$ hermes ${args.join(' ')}\n${out}\n`);
      if (code === 0) resolve(out);
      else reject(new Error(`hermes ${args.join(' ')} failed (exit ${code}):\n${out}`));
    });
  });
}

function gatewaySystem(scenario: GatewayScenario): System {
  return {
    name: scenario.name,
    async start({ workDir, sinkPort }) {
      const dataDir = path.join(workDir, 'gateway-data');
      const logFile = path.join(workDir, 'gateway.log');
      const smtpPort = await findFreePort();
      const hermes = (args: string[]) => runHermes(args, logFile);
      const dns = await benchDnsServer();
      await hermes(['init', '--data-dir', dataDir, '--hostname', 'mx.test.local', '--smtp-port', String(smtpPort), '--smtp-host', '127.0.0.1', '--http-port', String(await findFreePort()), '--http-host', '127.0.0.1', '--dns', dns.server]);
      await scenario.prepare({ dataDir, smtpPort, sinkPort, hermes });
      // Logs go to a file, not through this process, so reading them costs the bench nothing.
      const fd = openSync(logFile, 'a');
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, [...PROFILE_ARGV, ...HERMES_ARGV, 'start', '--data-dir', dataDir], {
          cwd: REPO,
          stdio: ['ignore', fd, fd],
          env: { ...process.env, ...scenario.env },
        });
      } finally {
        closeSync(fd);
      }
      const pid = child.pid;
      if (pid === undefined) throw new Error('could not spawn the gateway');
      const exited = once(child, 'exit');
      const stop = async () => {
        await stopGateway();
        cleanups.delete(killAll);
      };
      const stopGateway = async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const tree = [pid, ...descendantPids(pid)];
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const ok = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 30_000)))]);
        clearTimeout(timer);
        if (!ok) {
          process.stderr.write(`  gateway did not stop within 30 s of SIGTERM; killing it\n`);
          for (const p of [...tree, ...descendantPids(pid)]) if (!isGone(p)) killPid(p);
          await exited;
        }
        // Workers (if any) must be gone too.
        const deadline = Date.now() + 10_000;
        while (tree.some((p) => !isGone(p)) && Date.now() < deadline) await sleep(50);
        for (const p of tree) if (!isGone(p)) killPid(p);
      };
      const killAll = () => {
        for (const p of [pid, ...descendantPids(pid)]) killPid(p);
      };
      cleanups.add(killAll);
      try {
        await waitForSmtpGreeting(smtpPort, 60_000, '127.0.0.1', () => child.exitCode === null && child.signalCode === null);
      } catch (e) {
        await stop();
        const log = await fsp.readFile(logFile, 'utf8').catch(() => '');
        throw new Error(`${(e as Error).message}\n--- ${logFile} (tail) ---\n${log.slice(-3000)}`);
      }
      return { port: smtpPort, roots: () => [pid], stop };
    },
  };
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

// Last-resort cleanup when the bench is interrupted: kill what we started, by PID,
// and remove the work directory (the peers helper kills its own processes on exit).
const cleanups = new Set<() => void>();
let workRootToRemove: string | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: stopping\n`);
    for (const c of cleanups) {
      try {
        c();
      } catch {
        /* best effort */
      }
    }
    killAllPeers();
    if (workRootToRemove) rmSync(workRootToRemove, { recursive: true, force: true });
    process.exit(130);
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Measurement

interface Row {
  load: string;
  system: string;
  messages: number;
  delivered: number;
  elapsedS: number;
  msgsPerS: number;
  acceptPerS: number;
  cpuMsPerMsg: number;
  peakRssMB: number;
  peakPssMB: number;
  peakProcesses: number;
  hostBusyPct: number;
  hostIowaitPct: number;
  ratio?: number;
  /** msgs/s over the plain-relay gateway row of the same load. */
  vsPlain?: number;
  /** msgs/s over the postfix+rspamd row of the same load (gateway rows). */
  vsRspamd?: number;
  error?: string;
}

async function measure(load: Load, system: System, workRoot: string): Promise<Row> {
  const workDir = await fsp.mkdtemp(path.join(workRoot, `${load.id}-${system.name.replace(/\W+/g, '_')}-`));
  await fsp.chmod(workDir, 0o755);
  const sink = await startSmtpSink({ countOnly: true });
  let relay: RunningRelay | undefined;
  const row: Row = {
    load: load.label,
    system: system.name,
    messages: load.messages,
    delivered: 0,
    elapsedS: NaN,
    msgsPerS: NaN,
    acceptPerS: NaN,
    cpuMsPerMsg: NaN,
    peakRssMB: NaN,
    peakPssMB: NaN,
    peakProcesses: 0,
    hostBusyPct: NaN,
    hostIowaitPct: NaN,
  };
  try {
    relay = await system.start({ workDir, sinkPort: sink.port });
    const warm = Math.min(WARMUP, load.messages);
    if (warm > 0) {
      const w = await load.send(relay.port, warm);
      if (w.error && w.accepted === 0) throw new Error(`warm-up: ${w.error}`);
      const got = await sink.waitForCount(w.accepted, 60_000);
      if (got < w.accepted) throw new Error(`warm-up: only ${got} of ${w.accepted} reached the sink in 60 s`);
    }
    const base = await sink.count();
    const r = relay;
    const poller = new RssPoller(() => r.roots());
    const scanned0 = await relay.scanned?.();
    const cpu0 = sampleTree(relay.roots()).cpuMs;
    const host0 = hostCpu();
    const t0 = performance.now();
    const sent = await load.send(relay.port, load.messages);
    const target = base + sent.accepted;
    const reached = await sink.waitForCount(target, sent.error ? 30_000 : TIMEOUT_MS);
    const t1 = performance.now();
    const cpu1 = sampleTree(relay.roots()).cpuMs;
    const host = hostCpuPercent(host0, hostCpu());
    poller.stop();
    row.hostBusyPct = host.busy;
    row.hostIowaitPct = host.iowait;
    row.delivered = reached - base;
    row.elapsedS = (t1 - t0) / 1000;
    row.msgsPerS = row.delivered / row.elapsedS;
    row.acceptPerS = sent.accepted / (sent.elapsedMs / 1000);
    row.cpuMsPerMsg = (cpu1 - cpu0) / Math.max(1, row.delivered);
    row.peakRssMB = poller.peakBytes / (1024 * 1024);
    row.peakPssMB = poller.peakPssBytes / (1024 * 1024);
    row.peakProcesses = poller.peakProcesses;
    if (sent.error) row.error = sent.error;
    // milter_default_action = accept passes mail on when the filter fails: count scans.
    if (scanned0 !== undefined) {
      const scanned = (await relay.scanned!()) - scanned0;
      if (!(scanned >= row.delivered)) row.error = `${row.error ? row.error + '; ' : ''}the filter scanned only ${scanned} of ${row.delivered} delivered messages`;
    }
    if (reached < target) row.error = `${row.error ? row.error + '; ' : ''}only ${row.delivered} of ${sent.accepted} reached the sink`;
  } catch (e) {
    row.error = (e as Error).message;
  } finally {
    await relay?.stop().catch((e: Error) => process.stderr.write(`  stopping ${system.name}: ${e.message}\n`));
    await sink.stop();
    if (env.BENCH_KEEP !== '1') await fsp.rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
  return row;
}

/** The run with the median end-to-end rate (a failed run wins, so failures show). */
function medianRow(runs: Row[]): Row {
  const failed = runs.find((r) => r.error);
  if (failed) return failed;
  const sorted = [...runs].sort((a, b) => a.msgsPerS - b.msgsPerS);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

// ---------------------------------------------------------------------------
// Output

function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function table(rows: Row[]): string {
  const head = ['load', 'system', 'messages', 'elapsed s', 'msgs/s', 'accept/s', 'CPU ms/msg', 'peak RSS MB', 'peak PSS MB', 'procs', 'host busy/io %', 'vs Postfix', 'vs plain gw', 'vs pf+rspamd'];
  const body = rows.map((r) => [
    r.load,
    r.system,
    r.delivered === r.messages ? String(r.messages) : `${r.delivered}/${r.messages}`,
    fmt(r.elapsedS, 2),
    fmt(r.msgsPerS, 0),
    fmt(r.acceptPerS, 0),
    fmt(r.cpuMsPerMsg, 2),
    fmt(r.peakRssMB, 1),
    fmt(r.peakPssMB, 1),
    String(r.peakProcesses || '-'),
    `${fmt(r.hostBusyPct, 0)}/${fmt(r.hostIowaitPct, 0)}`,
    r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}x`,
    r.vsPlain === undefined ? '-' : `${r.vsPlain.toFixed(2)}x`,
    r.vsRspamd === undefined ? '-' : `${r.vsRspamd.toFixed(2)}x`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  for (const r of rows) if (r.error) out.push(`  ! ${r.load} / ${r.system}: ${r.error}`);
  return out.join('\n');
}

function describeMachine(): string {
  const cpu = os.cpus();
  let postfix = '?';
  try {
    postfix = execFileSync('postconf', ['-h', 'mail_version'], { encoding: 'utf8' }).trim();
  } catch {
    /* not installed */
  }
  let disk = '';
  try {
    disk = execFileSync('df', ['-h', '--output=source,fstype', os.tmpdir()], { encoding: 'utf8' }).trim().split('\n')[1] ?? '';
  } catch {
    /* no df */
  }
  return `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, Postfix ${postfix}, spool disk ${disk.replace(/\s+/g, ' ')}`;
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const wantLoads = list(env.BENCH_LOADS) ?? ['10k', '100k', 'corpus'];
  const wantSystems = list(env.BENCH_SYSTEMS) ?? ['postfix', 'postfix+rspamd', 'gateway'];
  const unknown = wantSystems.filter((s) => !['postfix', 'postfix+rspamd', 'gateway'].includes(s));
  if (unknown.length > 0) throw new Error(`BENCH_SYSTEMS: unknown ${unknown.join(', ')} (use postfix, postfix+rspamd, gateway)`);
  const wantScenarios = list(env.BENCH_SCENARIOS);

  const loads: Load[] = [];
  const notes: string[] = [];
  if (wantLoads.includes('10k')) loads.push(smtpSourceLoad('10k', `10 KiB`, scaled(5000), 10 * 1024));
  if (wantLoads.includes('100k')) loads.push(smtpSourceLoad('100k', `100 KiB`, scaled(1000), 100 * 1024));
  if (wantLoads.includes('corpus')) {
    const c = await corpusLoad();
    if (typeof c === 'string') notes.push(c);
    else loads.push(c);
  }

  const systems: System[] = [];
  if (wantSystems.includes('postfix')) systems.push(postfixSystem);
  if (wantSystems.includes('postfix+rspamd')) {
    const missing = rspamdPeerMissing() ?? (existsSync(path.join(CORPUS_DIR, 'spam')) ? undefined : `the postfix+rspamd system trains Bayes on the corpus: ${CORPUS_DIR} not found`);
    if (!missing) systems.push(postfixRspamdSystem);
    else if (env.BENCH_SYSTEMS) throw new Error(missing);
    else notes.push(`postfix+rspamd skipped: ${missing}`);
  }
  if (wantSystems.includes('gateway')) {
    for (const s of gatewayScenarios) if (!wantScenarios || wantScenarios.includes(s.name)) systems.push(gatewaySystem(s));
  }

  const workRoot = await fsp.mkdtemp(path.join(env.BENCH_WORK_DIR ?? os.tmpdir(), 'hermes-bench-'));
  await fsp.chmod(workRoot, 0o755); // Postfix daemons (user postfix) must reach their queue
  if (env.BENCH_KEEP !== '1') workRootToRemove = workRoot;

  console.log(`Relay benchmark: ${describeMachine()}`);
  console.log(
    `BENCH_SCALE=${SCALE}, ${SESSIONS} sessions, ${REUSE ? 'connections reused (-d)' : 'one connection per message'}, ` +
      `warm-up ${WARMUP} messages, ${REPEAT > 1 ? `median of ${REPEAT} runs, ` : ''}${FROM} -> ${TO}, relays deliver to smtp-sink on 127.0.0.1`,
  );
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`work dir: ${workRoot}${env.BENCH_KEEP === '1' ? ' (kept)' : ''}\n`);

  const rows: Row[] = [];
  const allRuns: Row[] = [];
  try {
    for (const load of loads) {
      let baseline: number | undefined;
      let plainGateway: number | undefined;
      let rspamdRate: number | undefined;
      for (const system of systems) {
        const runs: Row[] = [];
        for (let i = 0; i < REPEAT; i++) {
          process.stderr.write(`- ${load.label} x${load.messages} through ${system.name}${REPEAT > 1 ? ` (run ${i + 1}/${REPEAT})` : ''} ... `);
          const run = await measure(load, system, workRoot);
          process.stderr.write(run.error ? `error: ${run.error.split('\n')[0]}\n` : `${fmt(run.msgsPerS, 0)} msgs/s\n`);
          runs.push(run);
        }
        allRuns.push(...runs);
        const row = medianRow(runs);
        const isGateway = system !== postfixSystem && system !== postfixRspamdSystem;
        if (system === postfixSystem) baseline = row.error ? undefined : row.msgsPerS;
        else if (baseline !== undefined && Number.isFinite(row.msgsPerS)) row.ratio = row.msgsPerS / baseline;
        if (system === postfixRspamdSystem) rspamdRate = row.error ? undefined : row.msgsPerS;
        else if (isGateway && rspamdRate !== undefined && Number.isFinite(row.msgsPerS)) row.vsRspamd = row.msgsPerS / rspamdRate;
        if (row.system === 'gateway' && !row.error) plainGateway = row.msgsPerS;
        else if (isGateway && plainGateway !== undefined && Number.isFinite(row.msgsPerS)) row.vsPlain = row.msgsPerS / plainGateway;
        rows.push(row);
      }
    }
  } finally {
    await stopSharedRspamd();
    await benchDns?.close();
    if (env.BENCH_KEEP !== '1') await fsp.rm(workRoot, { recursive: true, force: true }).catch(() => undefined);
  }

  console.log('\n' + table(rows));
  console.log(
    '\nmsgs/s: end to end, first message sent until the sink counted the last; accept/s: until the sender finished.\n' +
      'CPU and memory: all processes of the relay (Postfix: master and every daemon it ran; gateway: its process tree).\n' +
      'RSS is summed over processes (shared pages counted once per process, every 100 ms); PSS splits shared pages\n' +
      '(every 1 s). host busy/io %: the whole machine (all cores, sender and sink included) busy / waiting for disk\n' +
      'during the measurement. vs Postfix: end-to-end msgs/s over Postfix\'s for the same load; vs pf+rspamd: over\n' +
      'postfix+rspamd\'s (Postfix with Rspamd as milter: spam checks, Bayes, DKIM signing), whose CPU and memory include Rspamd and Redis.',
  );
  if (env.BENCH_JSON) {
    await fsp.writeFile(env.BENCH_JSON, JSON.stringify({ scale: SCALE, repeat: REPEAT, reuse: REUSE, machine: describeMachine(), rows, runs: allRuns }, null, 2));
  }
  if (rows.some((r) => r.error)) process.exitCode = 1;
}

await main();
