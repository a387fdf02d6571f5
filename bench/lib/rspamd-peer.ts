// Rspamd as the relay benchmark's peer content filter: the stock Debian configuration
// (/etc/rspamd: every standard module, hyperscan, the usual scores) with a private
// local.d of ours, a private Redis for Bayes and the other Redis-backed modules, and
// the proxy worker in milter mode for Postfix's smtpd_milters.
//
// What local.d changes from stock, and why:
// - DNS goes to the bench's local DNS server (RBL, SURBL, SPF, DKIM, DMARC lookups stay
//   on this machine and get quick answers, as the gateway's do);
// - fuzzy_check is off (it needs rspamd.com's fuzzy servers: no local equivalent);
// - greylisting and the reject action are off: the gateway's gw+filter row only tags,
//   and a tempfail or reject would keep messages from the sink that counts them;
// - DKIM signing of every message with a fresh RSA-2048 key of the envelope sender's
//   domain (the reference stack signed outbound mail).
//
// Rspamd's workers outlive a killed main process, so Rspamd and Redis run in one
// process group of their own, under a shell that kills the whole group when either
// exits or when the bench disappears (checked every second); kill() signals that group.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, promises as fsp, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { descendantPids, findFreePort } from '../../test/helpers/peers.ts';

const RSPAMD = '/usr/bin/rspamd';
const RSPAMC = '/usr/bin/rspamc';
const RSPAMADM = '/usr/bin/rspamadm';
const REDIS = '/usr/bin/redis-server';
const run = promisify(execFile);

/** Why the peer cannot run here, or undefined when it can. */
export function rspamdPeerMissing(): string | undefined {
  const missing = [RSPAMD, RSPAMC, RSPAMADM, REDIS].filter((p) => !existsSync(p));
  if (missing.length === 0) return undefined;
  return `the postfix+rspamd system needs ${missing.join(', ')}: apt-get install rspamd redis-server`;
}

export interface RspamdPeer {
  /** Loopback port of the proxy worker in milter mode. */
  milterPort: number;
  /** Rspamd's main process and redis-server: CPU and memory are summed over their trees. */
  roots(): number[];
  /** Messages Rspamd has scanned so far (the controller's counter). */
  scanned(): Promise<number>;
  /** Learns these files as spam or ham; returns how many Rspamd accepted. */
  learn(kind: 'spam' | 'ham', files: string[]): Promise<number>;
  stop(): Promise<void>;
  /** Synchronous last resort (signal handlers): SIGKILL the process group. */
  kill(): void;
  /** Tail of rspamd.log, for error messages. */
  logTail(): Promise<string>;
}

export interface RspamdPeerOptions {
  /** Private directory for configuration, key, databases and logs. */
  dir: string;
  /** "127.0.0.1:PORT" of the DNS server Rspamd must use. */
  dnsServer: string;
  /** Domain whose key signs every message (the load's envelope sender domain). */
  signDomain: string;
  /** Normal (scanning) workers; stock leaves the count to Rspamd. */
  normalWorkers?: number;
  readyTimeoutMs?: number;
}

export async function startRspamdPeer(o: RspamdPeerOptions): Promise<RspamdPeer> {
  const problem = rspamdPeerMissing();
  if (problem) throw new Error(problem);
  const dir = path.resolve(o.dir);
  const localD = path.join(dir, 'local.d');
  for (const d of [localD, path.join(dir, 'db'), path.join(dir, 'dkim')]) mkdirSync(d, { recursive: true });
  const [normalPort, controllerPort, milterPort, redisPort] = (await distinctFreePorts(4)) as [number, number, number, number];

  const keyFile = path.join(dir, 'dkim', `${o.signDomain}.bench.key`);
  await run(RSPAMADM, ['dkim_keygen', '-b', '2048', '-s', 'bench', '-d', o.signDomain, '-k', keyFile]);
  await writeConfig({ dir, localD, normalPort, controllerPort, milterPort, redisPort, dnsServer: o.dnsServer, keyFile, signDomain: o.signDomain, normalWorkers: o.normalWorkers });

  const vars = ['LOCAL_CONFDIR=' + dir, 'DBDIR=' + path.join(dir, 'db'), 'RUNDIR=' + dir, 'LOGDIR=' + dir].map((v) => `--var=${v}`);
  const redisArgs = ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log')];
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  // $1: the bench's PID. Prints both PIDs, then waits while all three live.
  const watchdog = `${[REDIS, ...redisArgs].map(q).join(' ')} & d=$!
${[RSPAMD, '-c', path.join(dir, 'rspamd.conf'), ...vars, '-f', '-i'].map(q).join(' ')} & r=$!
echo "pids $d $r"
while kill -0 "$1" 2>/dev/null && kill -0 "$r" 2>/dev/null && kill -0 "$d" 2>/dev/null; do sleep 1; done
kill -KILL 0`;
  const child: ChildProcess = spawn('/bin/sh', ['-c', watchdog, 'sh', String(process.pid)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  let pids: number[] = [];
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-8000);
    const m = /pids (\d+) (\d+)/.exec(output);
    if (m && pids.length === 0) pids = [Number(m[2]), Number(m[1])];
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = once(child, 'exit');
  const group = child.pid!;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-group, sig);
    } catch {
      /* gone */
    }
  };
  const kill = () => signalGroup('SIGKILL');
  process.on('exit', kill);
  const alive = () => child.exitCode === null && child.signalCode === null;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (alive()) {
      // SIGTERM to Rspamd's main process stops its workers; the watchdog then kills the rest.
      for (const p of pids) {
        try {
          process.kill(p, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      const timer = setTimeout(kill, 15_000);
      await exited;
      clearTimeout(timer);
    }
    kill(); // anything that outlived the shell
    process.off('exit', kill);
  };
  const logTail = async () => (await fsp.readFile(path.join(dir, 'rspamd.log'), 'utf8').catch(() => '')).slice(-3000);
  const controller = `http://127.0.0.1:${controllerPort}`;

  // Ready when the scanner and the controller answer /ping and the milter port accepts.
  const deadline = Date.now() + (o.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (!alive()) {
      await stop();
      throw new Error(`rspamd or redis-server exited during startup: ${output}\n${await logTail()}`);
    }
    if ((await ping(`http://127.0.0.1:${normalPort}/ping`)) && (await ping(`${controller}/ping`)) && (await accepts(milterPort)) && (await accepts(redisPort))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`rspamd was not ready within ${o.readyTimeoutMs ?? 120_000} ms\n${output}\n${await logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  // The hs_helper process compiles the stock rules for hyperscan after startup (seconds);
  // until it is done the workers match with PCRE and the compiler takes CPU. Wait for it.
  if (pids[0] !== undefined) await hyperscanSettled(pids[0], Date.now() + 120_000);

  return {
    milterPort,
    roots: () => pids,
    async scanned() {
      const r = await fetch(`${controller}/stat`, { signal: AbortSignal.timeout(10_000) });
      if (!r.ok) throw new Error(`rspamd /stat: HTTP ${r.status}`);
      return Number(((await r.json()) as { scanned?: number }).scanned ?? NaN);
    },
    async learn(kind, files) {
      // rspamc prints one result block per file; "success = true;" marks a learned one.
      const { stdout } = await run(RSPAMC, ['-h', `127.0.0.1:${controllerPort}`, '-n', '4', '-t', '60', kind === 'spam' ? 'learn_spam' : 'learn_ham', ...files], { maxBuffer: 64 * 1024 * 1024 });
      return (stdout.match(/success = true;/g) ?? []).length;
    },
    stop,
    kill,
    logTail,
  };
}

interface ConfigInput {
  dir: string;
  localD: string;
  normalPort: number;
  controllerPort: number;
  milterPort: number;
  redisPort: number;
  dnsServer: string;
  keyFile: string;
  signDomain: string;
  normalWorkers?: number;
}

async function writeConfig(c: ConfigInput): Promise<void> {
  // The top level mirrors /etc/rspamd/rspamd.conf with our sockets; the proxy section
  // repeats worker-proxy.inc's stock values with our own upstream (the scanner's port).
  const top = `.include "$CONFDIR/common.conf"
options {
  pidfile = "$RUNDIR/rspamd.pid";
  .include "$CONFDIR/options.inc"
  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}
logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "notice"; }
worker "normal" {
  bind_socket = "127.0.0.1:${c.normalPort}";
  .include "$CONFDIR/worker-normal.inc"
${c.normalWorkers ? `  count = ${c.normalWorkers};\n` : ''}}
worker "controller" {
  bind_socket = "127.0.0.1:${c.controllerPort}";
  .include "$CONFDIR/worker-controller.inc"
}
worker "rspamd_proxy" {
  bind_socket = "127.0.0.1:${c.milterPort}";
  milter = yes;
  timeout = 120s;
  upstream "local" { default = yes; hosts = "127.0.0.1:${c.normalPort}"; }
  count = 1;
  max_retries = 5;
  discard_on_reject = false;
  quarantine_on_reject = false;
  spam_header = "X-Spam";
  reject_message = "Spam message rejected";
}
`;
  const files: Record<string, string> = {
    'options.inc': `dns { nameserver = ["${c.dnsServer}"]; }\n`,
    'redis.conf': `servers = "127.0.0.1:${c.redisPort}";\n`,
    'classifier-bayes.conf': 'autolearn = false;\n',
    'greylist.conf': 'enabled = false;\n',
    'fuzzy_check.conf': 'enabled = false;\n',
    'actions.conf': 'reject = null;\ngreylist = null;\n',
    'dkim_signing.conf': `sign_local = true;
use_domain = "envelope";
allow_hdrfrom_mismatch = true;
allow_username_mismatch = true;
domain { "${c.signDomain}" { selector = "bench"; path = "${c.keyFile}"; } }
`,
  };
  await fsp.writeFile(path.join(c.dir, 'rspamd.conf'), top);
  for (const [name, text] of Object.entries(files)) await fsp.writeFile(path.join(c.localD, name), text);
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await findFreePort());
  return [...ports];
}

async function ping(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(2000, () => done(false));
  });
}

/** Waits until Rspamd's hs_helper has used no CPU for two seconds (or the deadline). */
async function hyperscanSettled(rspamdPid: number, deadline: number): Promise<void> {
  const cpuTicks = (): number | undefined => {
    for (const pid of descendantPids(rspamdPid)) {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('hs_helper')) continue;
        // Fields after the parenthesised command: utime and stime are the 12th and 13th.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(f[11]) + Number(f[12]);
      } catch {
        /* gone */
      }
    }
    return undefined;
  };
  let last = cpuTicks();
  while (last !== undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2000));
    const now = cpuTicks();
    if (now === last) return;
    last = now;
  }
}
