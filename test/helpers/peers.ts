// Helpers that run real peers we did not write (DESIGN.md principle 6):
// Postfix's smtp-sink and smtp-source, swaks, and a private stock Postfix relay.
//
// Everything listens on 127.0.0.1 only, on ports the OS hands out. Every process
// started here is stopped here, by PID: `stop()` on the returned handle, and as a
// last resort a synchronous SIGKILL from a process 'exit' hook if a test forgot or
// crashed before calling it.
//
// smtp-sink quirks (Postfix 3.7, read from its source):
// - As root it refuses to run without `-u user`; we pass `-u postfix`, so its dump
//   directory must be writable by, and its parents searchable by, the postfix user.
// - The `-d` dump file is created at MAIL FROM and finished at the final "."; an
//   aborted transaction (RSET, new EHLO, disconnect) unlinks it. A file that is still
//   open by the process is in progress, so `messages()` skips open files.
// - The dump keeps lines, not bytes: every CR is dropped and dot-stuffing removed.
//   `raw` is rebuilt with CRLF line ends (the wire form of a well-formed message);
//   a bare CR or bare LF sent by the client cannot be seen in it.
// - `-c` prints "sess=N quit=N mesg=N\r" (flushed) on stdout after every message and
//   every session. `count()` comes from that counter in both modes. It counts every
//   DATA that reached its final ".", including ones the sink then rejects when "."
//   is listed in hardReject/softReject.
// - `-f` / `-r` (reject commands) also turn PIPELINING off, as the man page says.
// - The sink does not announce SIZE, STARTTLS or SMTPUTF8.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { promises as fsp, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const SMTP_SINK = '/usr/sbin/smtp-sink';
export const SMTP_SOURCE = '/usr/sbin/smtp-source';
export const POSTFIX = '/usr/sbin/postfix';

// ---------------------------------------------------------------------------
// Safety net: kill by PID whatever is still running when this process exits.

const liveKillers = new Map<number, () => void>();
let exitHookInstalled = false;
let nextKillerId = 1;

/** SIGKILLs, by PID, every peer process started here that is still running. */
export function killAllPeers(): void {
  runKillers();
}

function runKillers(): void {
  for (const k of liveKillers.values()) {
    try {
      k();
    } catch {
      /* best effort */
    }
  }
  liveKillers.clear();
}

function registerKiller(kill: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', runKillers);
    // 'exit' does not run when a signal ends the process: kill our peers, then let
    // the signal do what it would have done (unless someone else handles it).
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const onSignal = () => {
        runKillers();
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      };
      process.once(sig, onSignal);
    }
  }
  const id = nextKillerId++;
  liveKillers.set(id, kill);
  return () => liveKillers.delete(id);
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

// ---------------------------------------------------------------------------
// Small utilities

export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not obtain a free port'));
        return;
      }
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Account {
  uid: number;
  gid: number;
}

function lookupAccount(name: string): Account | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] !== undefined && f[3] !== undefined) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    /* no passwd file */
  }
  return undefined;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Is the process gone (no such PID, or a zombie nobody has reaped yet)? */
export function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** PIDs of all live descendants of `root` (not including root), from a /proc scan. */
export function descendantPids(root: number): number[] {
  const parentOf = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(e), Number(rest[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parentOf) {
    let list = children.get(ppid);
    if (!list) children.set(ppid, (list = []));
    list.push(pid);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop()!;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** Blocking wait (for 'exit' handlers, where nothing async runs) until pid is gone. */
function waitGoneSync(pid: number, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!isGone(pid)) {
    if (Date.now() > deadline) return false;
    Atomics.wait(cell, 0, 0, 5);
  }
  return true;
}

async function waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pids.every(isGone)) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

/** Resolves when 127.0.0.1:port answers with an SMTP 220 greeting. */
export async function waitForSmtpGreeting(
  port: number,
  timeoutMs: number,
  host = '127.0.0.1',
  alive: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = 'no attempt';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`process exited before listening on ${host}:${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ host, port });
      let buf = '';
      let greeted = false;
      const done = (v: boolean, err?: string) => {
        if (err) lastErr = err;
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(2000, () => done(greeted, greeted ? undefined : 'timeout waiting for greeting'));
      sock.on('error', (e) => done(greeted, e.message));
      sock.on('close', () => done(greeted, 'connection closed'));
      sock.on('data', (d) => {
        if (greeted) return;
        buf += d.toString('latin1');
        if (/^220 .*\r?\n/m.test(buf)) {
          greeted = true;
          // A polite goodbye so the server does not log a lost connection mid-command.
          sock.end('QUIT\r\n');
          setTimeout(() => done(true), 200);
        } else if (/^\d{3} .*\r?\n/m.test(buf)) {
          done(false, `greeting: ${buf.trim()}`);
        }
      });
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`no SMTP greeting on ${host}:${port} within ${timeoutMs} ms (${lastErr})`);
}

interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Runs a command to completion (killing it by PID on timeout) and collects its output. */
function runCommand(
  cmd: string,
  args: string[],
  opts: {
    timeoutMs?: number;
    stdin?: string | Buffer;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    /**
     * The command leaves a daemon behind that inherits stdout/stderr (postfix start):
     * finish on the command's exit instead of waiting for its pipes to close.
     */
    daemonizes?: boolean;
  } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, {
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const pid = child.pid;
    const unregister = pid !== undefined ? registerKiller(() => killQuietly(pid, 'SIGKILL')) : () => {};
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
    let timedOut = false;
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            if (pid !== undefined) killQuietly(pid, 'SIGKILL');
          }, opts.timeoutMs)
        : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      unregister();
      reject(e);
    });
    child.on(opts.daemonizes ? 'exit' : 'close', (code, signal) => {
      if (timer) clearTimeout(timer);
      unregister();
      if (opts.daemonizes) {
        child.stdout!.destroy();
        child.stderr!.destroy();
      }
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        exitCode: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: timedOut ? `${stderr}\n[killed after ${opts.timeoutMs} ms timeout]` : stderr,
        elapsedMs: performance.now() - started,
      });
    });
  });
}

// ---------------------------------------------------------------------------
// smtp-sink

export interface SmtpSinkOptions {
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Commands answered with a hard 5xx (smtp-sink -f), e.g. ['RCPT'] or ['.']. */
  hardReject?: string[];
  /** Commands answered with a soft 4xx (smtp-sink -r), e.g. ['RCPT'] or ['.']. */
  softReject?: string[];
  /** Commands after which the sink disconnects without replying (smtp-sink -q). */
  disconnect?: string[];
  /** Commands answered with 421 and a disconnect (smtp-sink -Q). */
  reply421?: string[];
  /**
   * Do not dump messages to files (no -d): only count them, from smtp-sink's own
   * `-c` counter. For benchmarks; `messages()` then throws.
   */
  countOnly?: boolean;
  /** Greeting / EHLO host name (smtp-sink -h). */
  hostname?: string;
  /** Maximal simultaneous connections (smtp-sink -m). Default 256. */
  maxConnections?: number;
  /** listen(2) backlog. Default 1024. */
  backlog?: number;
  /** Directory for the dump files; a temporary one when omitted (removed at process exit). */
  dumpDir?: string;
  /** Anything else for the smtp-sink command line (before the address). */
  extraArgs?: string[];
}

export interface SinkMessage {
  /** MAIL FROM address without <> ('' for the null sender). */
  from: string;
  /** RCPT TO addresses without <>, in the order sent. */
  to: string[];
  /** The message as received: dot-unstuffed, lines ending in CRLF (see file header). */
  raw: Buffer;
  /** Full MAIL FROM arguments (address plus ESMTP parameters such as BODY=8BITMIME). */
  mailArgs: string;
  /** Full RCPT TO arguments, one per recipient. */
  rcptArgs: string[];
  /** EHLO/HELO argument of the session, when one was sent. */
  helo?: string;
  /** Client IP address as the sink saw it. */
  clientAddr: string;
  /** The dump file it was read from. */
  file: string;
}

export interface SmtpSink {
  readonly port: number;
  readonly host: string;
  /** PID of the running smtp-sink, undefined while stopped. */
  readonly pid: number | undefined;
  /** Dump directory (undefined in countOnly mode). */
  readonly dumpDir: string | undefined;
  /** Completed messages, oldest first (by dump file mtime). Dump mode only. */
  messages(): Promise<SinkMessage[]>;
  /** Messages whose DATA completed, since start (summed over restarts). */
  count(): Promise<number>;
  /** Resolves with count() once it is >= n, or with the current count after timeoutMs. */
  waitForCount(n: number, timeoutMs: number): Promise<number>;
  /**
   * Kills the sink and waits until the process is gone. Dumps and count stay:
   * messages() still works and restart() starts it again. A temporary dump
   * directory is removed when this (test) process exits.
   */
  stop(): Promise<void>;
  /** (Stops and) starts again on the same port, keeping dumps and the count. */
  restart(): Promise<void>;
}

function addressOf(args: string): string {
  const a = args.trim();
  if (a.startsWith('<')) {
    const end = a.indexOf('>');
    return end < 0 ? a.slice(1) : a.slice(1, end);
  }
  return a.split(/\s+/)[0] ?? '';
}

/** Parses one smtp-sink `-d` dump file (format: smtp-sink(1) DUMP FILE FORMAT). */
export function parseSinkDump(content: Buffer, file = ''): SinkMessage {
  let pos = 0;
  const nextLine = (): string | undefined => {
    if (pos >= content.length) return undefined;
    let nl = content.indexOf(0x0a, pos);
    if (nl < 0) nl = content.length;
    const line = content.subarray(pos, nl).toString('latin1');
    pos = nl + 1;
    return line;
  };
  let clientAddr = '';
  let helo: string | undefined;
  let mailArgs = '';
  const rcptArgs: string[] = [];
  let sawReceived = false;
  for (;;) {
    const line = nextLine();
    if (line === undefined) break;
    if (line.startsWith('X-Client-Addr: ')) clientAddr = line.slice(15);
    else if (line.startsWith('X-Client-Proto: ')) continue;
    else if (line.startsWith('X-Helo-Args: ')) helo = line.slice(13);
    else if (line.startsWith('X-Mail-Args: ')) mailArgs = line.slice(13);
    else if (line.startsWith('X-Rcpt-Args: ')) rcptArgs.push(line.slice(13));
    else if (line.startsWith('Received: ') && line.length > 0) {
      // Three-line Received header generated by the sink: "Received: from ...",
      // "\tby HOST (smtp-sink) with PROTO id ID;", "\tDATE". The message follows.
      nextLine();
      nextLine();
      sawReceived = true;
      break;
    } else {
      throw new Error(`unexpected line in smtp-sink dump ${file}: ${JSON.stringify(line)}`);
    }
  }
  if (!sawReceived) throw new Error(`smtp-sink dump ${file} has no DATA section`);
  let body = content.subarray(pos);
  // The LF of the terminating ".\r\n" is written too; drop it.
  if (body.length > 0 && body[body.length - 1] === 0x0a) body = body.subarray(0, body.length - 1);
  // Restore CRLF line ends (the sink drops every CR).
  const parts: Buffer[] = [];
  let start = 0;
  for (;;) {
    const nl = body.indexOf(0x0a, start);
    if (nl < 0) {
      parts.push(body.subarray(start));
      break;
    }
    parts.push(body.subarray(start, nl), CRLF);
    start = nl + 1;
  }
  return {
    from: addressOf(mailArgs),
    to: rcptArgs.map(addressOf),
    raw: Buffer.concat(parts),
    mailArgs,
    rcptArgs,
    helo,
    clientAddr,
    file,
  };
}
const CRLF = Buffer.from('\r\n');

export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const host = '127.0.0.1';
  const port = opts.port ?? (await findFreePort());
  const root = isRoot();
  const account = root ? lookupAccount('postfix') : undefined;
  if (root && !account) throw new Error('smtp-sink runs as root only with -u; no "postfix" user found');

  let dumpDir: string | undefined;
  let ownDumpRoot: string | undefined;
  if (!opts.countOnly) {
    if (opts.dumpDir) {
      dumpDir = opts.dumpDir;
      await fsp.mkdir(dumpDir, { recursive: true });
    } else {
      ownDumpRoot = await fsp.mkdtemp(path.join(os.tmpdir(), 'smtp-sink-'));
      await fsp.chmod(ownDumpRoot, 0o755);
      dumpDir = path.join(ownDumpRoot, 'dump');
      await fsp.mkdir(dumpDir);
    }
    if (account) await fsp.chown(dumpDir, account.uid, account.gid);
  }

  const args: string[] = ['-c', '-4'];
  if (root) args.push('-u', 'postfix');
  if (opts.hostname) args.push('-h', opts.hostname);
  args.push('-m', String(opts.maxConnections ?? 256));
  if (opts.hardReject?.length) args.push('-f', opts.hardReject.join(','));
  if (opts.softReject?.length) args.push('-r', opts.softReject.join(','));
  if (opts.disconnect?.length) args.push('-q', opts.disconnect.join(','));
  if (opts.reply421?.length) args.push('-Q', opts.reply421.join(','));
  if (dumpDir) args.push('-d', path.join(dumpDir, 'm.'));
  if (opts.extraArgs) args.push(...opts.extraArgs);
  args.push(`${host}:${port}`, String(opts.backlog ?? 1024));

  const events = new EventEmitter();
  events.setMaxListeners(0);
  let child: ChildProcess | undefined;
  let unregister: () => void = () => {};
  let baseCount = 0; // messages counted by earlier runs (before restart)
  let runCount = 0; // messages counted by the current run
  let stderr = '';
  let exitedUnexpectedly: string | undefined;
  let stopping = false;

  const launch = async () => {
    runCount = 0;
    stderr = '';
    exitedUnexpectedly = undefined;
    stopping = false;
    const c = spawn(SMTP_SINK, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const pid = c.pid;
    if (pid === undefined) {
      await once(c, 'error').catch(() => undefined);
      throw new Error(`could not start ${SMTP_SINK}`);
    }
    unregister = registerKiller(() => killQuietly(pid, 'SIGKILL'));
    let tail = '';
    c.stdout!.setEncoding('latin1');
    c.stdout!.on('data', (d: string) => {
      tail = (tail + d).slice(-200);
      const all = [...tail.matchAll(/mesg=(\d+)/g)];
      const last = all[all.length - 1];
      if (last) {
        const n = Number(last[1]);
        if (n !== runCount) {
          runCount = n;
          events.emit('count', baseCount + runCount);
        }
      }
    });
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    c.on('exit', (code, signal) => {
      if (!stopping) {
        exitedUnexpectedly = `smtp-sink exited (code ${code}, signal ${signal}): ${stderr.trim()}`;
        events.emit('count', baseCount + runCount);
      }
    });
    try {
      await waitForSmtpGreeting(port, 10_000, host, () => c.exitCode === null && c.signalCode === null);
    } catch (e) {
      await stopRun();
      throw new Error(`${(e as Error).message}; smtp-sink stderr: ${stderr.trim()}`);
    }
  };

  /** Files the sink still has open (transactions in progress). */
  const openFiles = (pid: number): Set<string> => {
    const set = new Set<string>();
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          set.add(readlinkSync(`/proc/${pid}/fd/${fd}`));
        } catch {
          /* closed meanwhile */
        }
      }
    } catch {
      /* process gone */
    }
    return set;
  };

  const stopRun = async () => {
    const c = child;
    if (!c) return;
    stopping = true;
    const pid = c.pid!;
    const exited = c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : once(c, 'exit').then(() => undefined);
    const closed = c.stdout && !c.stdout.readableEnded ? once(c.stdout, 'close').catch(() => undefined) : Promise.resolve();
    // Freeze it, note which dump files are unfinished, then kill: those files are partial.
    let partial = new Set<string>();
    if (dumpDir && !isGone(pid)) {
      killQuietly(pid, 'SIGSTOP');
      partial = openFiles(pid);
    }
    killQuietly(pid, 'SIGKILL');
    await exited;
    await Promise.race([closed, sleep(1000)]);
    unregister();
    child = undefined;
    baseCount += runCount;
    runCount = 0;
    if (dumpDir) {
      const prefix = dumpDir + path.sep;
      for (const f of partial) if (f.startsWith(prefix)) await fsp.rm(f, { force: true });
    }
  };

  // Our temporary dump directory outlives stop() (messages() still reads it, restart()
  // reuses it) and goes when this process exits, once the sink is surely dead (a live
  // sink would recreate the directories).
  const removeDumpRoot = () => {
    const pid = child?.pid;
    if (pid !== undefined) {
      killQuietly(pid, 'SIGKILL');
      if (!waitGoneSync(pid, 1000)) return;
    }
    if (ownDumpRoot) rmSync(ownDumpRoot, { recursive: true, force: true });
  };
  const unregisterDumpRoot = ownDumpRoot ? registerKiller(removeDumpRoot) : () => {};

  try {
    await launch();
  } catch (e) {
    if (ownDumpRoot) await fsp.rm(ownDumpRoot, { recursive: true, force: true });
    unregisterDumpRoot();
    throw e;
  }

  const sink: SmtpSink = {
    port,
    host,
    get pid() {
      return child?.pid;
    },
    dumpDir,
    async messages() {
      if (!dumpDir) throw new Error('smtp-sink started with countOnly: no message dumps');
      const names = await fsp.readdir(dumpDir);
      const busy = child?.pid !== undefined ? openFiles(child.pid) : new Set<string>();
      const found: { m: SinkMessage; mtime: bigint }[] = [];
      for (const name of names) {
        const file = path.join(dumpDir, name);
        if (busy.has(file)) continue;
        let content: Buffer;
        let mtime: bigint;
        try {
          const st = await fsp.stat(file, { bigint: true });
          if (!st.isFile()) continue;
          mtime = st.mtimeNs;
          content = await fsp.readFile(file);
        } catch {
          continue; // aborted transaction unlinked meanwhile
        }
        found.push({ m: parseSinkDump(content, file), mtime });
      }
      found.sort((a, b) => (a.mtime < b.mtime ? -1 : a.mtime > b.mtime ? 1 : a.m.file.localeCompare(b.m.file)));
      return found.map((f) => f.m);
    },
    async count() {
      return baseCount + runCount;
    },
    waitForCount(n: number, timeoutMs: number) {
      return new Promise<number>((resolve, reject) => {
        const current = () => baseCount + runCount;
        if (current() >= n) return resolve(current());
        if (exitedUnexpectedly) return reject(new Error(exitedUnexpectedly));
        const onCount = (c: number) => {
          if (exitedUnexpectedly) {
            cleanup();
            reject(new Error(exitedUnexpectedly));
          } else if (c >= n) {
            cleanup();
            resolve(c);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          resolve(current());
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          events.off('count', onCount);
        };
        events.on('count', onCount);
      });
    },
    async stop() {
      await stopRun();
    },
    async restart() {
      await stopRun();
      await launch();
    },
  };
  return sink;
}

// ---------------------------------------------------------------------------
// smtp-source

export interface SmtpSourceOptions {
  host: string;
  port: number;
  /** Total number of messages (-m). */
  messages: number;
  /** Parallel SMTP sessions (-s). */
  sessions: number;
  /** Synthetic body length in bytes (-l), not counting headers. Ignored with messageFile. */
  sizeBytes?: number;
  /** Send this pre-formatted message (headers and body) instead of a synthetic one (-F). */
  messageFile?: string;
  from: string;
  to: string;
  /** Recipients per transaction (-r); smtp-source prefixes a number to `to`. */
  recipientsPerMessage?: number;
  /** Keep the connection for the next message (-d) instead of one connection per message. */
  reuseConnection?: boolean;
  /** Subject header (-S). */
  subject?: string;
  /** HELO name and default address domain (-M). */
  helo?: string;
  /** Anything else, placed before the address. */
  extraArgs?: string[];
  /** Kill it after this long. Default 10 minutes. */
  timeoutMs?: number;
}

/**
 * Runs smtp-source to completion. Note that by default smtp-source opens a new
 * connection for every message (reuseConnection adds -d), does not pipeline, and
 * stops at the first unexpected reply (pass extraArgs ['-A'] to carry on).
 */
export function runSmtpSource(opts: SmtpSourceOptions): Promise<RunResult> {
  const args: string[] = ['-4', '-s', String(opts.sessions), '-m', String(opts.messages)];
  if (opts.messageFile) args.push('-F', opts.messageFile);
  else args.push('-l', String(opts.sizeBytes ?? 0));
  args.push('-f', opts.from, '-t', opts.to);
  if (opts.recipientsPerMessage !== undefined) args.push('-r', String(opts.recipientsPerMessage));
  if (opts.reuseConnection) args.push('-d');
  if (opts.subject !== undefined) args.push('-S', opts.subject);
  if (opts.helo !== undefined) args.push('-M', opts.helo);
  if (opts.extraArgs) args.push(...opts.extraArgs);
  args.push(`${opts.host}:${opts.port}`);
  return runCommand(SMTP_SOURCE, args, { timeoutMs: opts.timeoutMs ?? 600_000 });
}

// ---------------------------------------------------------------------------
// swaks

export async function runSwaks(
  args: string[],
  opts: { timeoutMs?: number; stdin?: string | Buffer } = {},
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const r = await runCommand('swaks', args, { timeoutMs: opts.timeoutMs ?? 60_000, stdin: opts.stdin });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

// ---------------------------------------------------------------------------
// A private, stock Postfix relay

export interface PostfixRelayOptions {
  /** smtpd listens on 127.0.0.1:listenPort. */
  listenPort: number;
  /** Domain(s) relayed (relay_domains), all sent to nextHop. */
  relayDomain: string | string[];
  /** Where relayed mail goes: transport_maps entry smtp:[host]:port. */
  nextHop: { host: string; port: number };
  /** Owns config, queue, data directories and the log; must be searchable by user postfix. */
  workDir: string;
  /** Extra main.cf settings (for tests; the benchmark keeps stock defaults). */
  mainCf?: Record<string, string>;
  /** myhostname. Default relay.test.local. */
  hostname?: string;
}

export interface PostfixRelay {
  readonly port: number;
  readonly configDir: string;
  readonly queueDir: string;
  /** maillog_file: Postfix logs here, not to syslog. */
  readonly logFile: string;
  /** PID of the master daemon. */
  readonly masterPid: number;
  /** The master and all its current descendants. */
  pids(): number[];
  /** Messages still in the queue (files under incoming, active, deferred, hold). */
  queueSize(): Promise<number>;
  /** `postfix stop`, then waits until every process of the instance is gone (SIGKILL after 15 s). */
  stop(): Promise<void>;
}

/** Services of the stock master.cf (master.cf.proto), minus local delivery, pickup and pipes. */
function masterCf(listenPort: number): string {
  // chroot "-" means n since Postfix 3.0: no copies of /etc files into the queue dir.
  return [
    '# service type  private unpriv  chroot  wakeup  maxproc command + args',
    `127.0.0.1:${listenPort} inet n - - - - smtpd`,
    'cleanup   unix  n       -       -       -       0       cleanup',
    'qmgr      unix  n       -       n       300     1       qmgr',
    'tlsmgr    unix  -       -       -       1000?   1       tlsmgr',
    'rewrite   unix  -       -       -       -       -       trivial-rewrite',
    'bounce    unix  -       -       -       -       0       bounce',
    'defer     unix  -       -       -       -       0       bounce',
    'trace     unix  -       -       -       -       0       bounce',
    'verify    unix  -       -       -       -       1       verify',
    'flush     unix  n       -       -       1000?   0       flush',
    'proxymap  unix  -       -       n       -       -       proxymap',
    'proxywrite unix -       -       n       -       1       proxymap',
    'smtp      unix  -       -       -       -       -       smtp',
    'relay     unix  -       -       -       -       -       smtp',
    '        -o syslog_name=postfix/$service_name',
    'showq     unix  n       -       -       -       -       showq',
    'error     unix  -       -       -       -       -       error',
    'retry     unix  -       -       -       -       -       error',
    'discard   unix  -       -       -       -       -       discard',
    'anvil     unix  -       -       -       -       1       anvil',
    'scache    unix  -       -       -       -       1       scache',
    'postlog   unix-dgram n  -       n       -       1       postlogd',
    '',
  ].join('\n');
}

export async function startPostfixRelay(opts: PostfixRelayOptions): Promise<PostfixRelay> {
  if (!isRoot()) throw new Error('a private Postfix instance needs root (master runs as root, daemons as postfix)');
  const account = lookupAccount('postfix');
  if (!account) throw new Error('no "postfix" user: install the postfix package');
  const workDir = path.resolve(opts.workDir);
  // The daemons run as user postfix and chdir into the queue directory: every
  // ancestor of workDir must be searchable by others. We do not change modes of
  // directories we did not create; say what is wrong instead.
  for (let dir = path.dirname(workDir); ; dir = path.dirname(dir)) {
    const st = await fsp.stat(dir).catch(() => undefined);
    if (st && (st.mode & 0o001) === 0) {
      throw new Error(`startPostfixRelay: ${dir} is not searchable by user postfix (mode ${(st.mode & 0o777).toString(8)}); chmod o+x it or use another workDir`);
    }
    if (dir === path.dirname(dir)) break;
  }
  const configDir = path.join(workDir, 'etc');
  const queueDir = path.join(workDir, 'queue');
  const dataDir = path.join(workDir, 'data');
  const logFile = path.join(workDir, 'maillog');
  await fsp.mkdir(workDir, { recursive: true });
  await fsp.chmod(workDir, 0o755); // daemons (user postfix) chdir into the queue directory
  await fsp.mkdir(configDir, { recursive: true });
  await fsp.mkdir(queueDir, { recursive: true, mode: 0o755 });
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
  await fsp.chown(dataDir, account.uid, account.gid);

  const domains = Array.isArray(opts.relayDomain) ? opts.relayDomain : [opts.relayDomain];
  const nextHop = `smtp:[${opts.nextHop.host}]:${opts.nextHop.port}`;
  const settings: Record<string, string> = {
    // Debian's stock main.cf sets 3.6 on fresh installs; it silences compatibility warnings.
    compatibility_level: '3.6',
    queue_directory: queueDir,
    data_directory: dataDir,
    myhostname: opts.hostname ?? 'relay.test.local',
    mydomain: 'test.local',
    mydestination: '',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    relay_domains: domains.join(', '),
    transport_maps: `inline:{ ${domains.map((d) => `${d}=${nextHop}`).join(', ')} }`,
    smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    smtp_tls_security_level: 'none',
    smtpd_tls_security_level: 'none',
    alias_maps: '',
    alias_database: '',
    local_recipient_maps: '',
    biff: 'no',
    maillog_file: logFile,
    maillog_file_prefixes: `/var, /dev/stdout, ${workDir}`,
    ...opts.mainCf,
  };
  const mainCf = Object.entries(settings)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n');
  await fsp.writeFile(path.join(configDir, 'main.cf'), `# private test instance, written by test/helpers/peers.ts\n${mainCf}\n`);
  await fsp.writeFile(path.join(configDir, 'master.cf'), masterCf(opts.listenPort));

  const start = await runCommand(POSTFIX, ['-c', configDir, 'start'], { timeoutMs: 60_000, daemonizes: true });
  const pidFile = path.join(queueDir, 'pid', 'master.pid');
  let masterPid = NaN;
  try {
    masterPid = Number((await fsp.readFile(pidFile, 'utf8')).trim());
  } catch {
    /* not started */
  }
  const pids = () => (Number.isFinite(masterPid) && !isGone(masterPid) ? [masterPid, ...descendantPids(masterPid)] : []);
  const unregister = registerKiller(() => {
    for (const p of pids()) killQuietly(p, 'SIGKILL');
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const before = pids();
    if (before.length > 0) {
      await runCommand(POSTFIX, ['-c', configDir, 'stop'], { timeoutMs: 20_000 });
      if (!(await waitGone(before, 15_000))) {
        for (const p of [...before, ...descendantPids(masterPid)]) if (!isGone(p)) killQuietly(p, 'SIGKILL');
        await waitGone(before, 5_000);
      }
    }
    unregister();
  };

  if (start.exitCode !== 0 || !Number.isFinite(masterPid) || isGone(masterPid)) {
    await stop();
    const log = await fsp.readFile(logFile, 'utf8').catch(() => '');
    throw new Error(`postfix -c ${configDir} start failed (exit ${start.exitCode}): ${start.stderr}\n${log}`);
  }
  try {
    await waitForSmtpGreeting(opts.listenPort, 20_000, '127.0.0.1', () => !isGone(masterPid));
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    port: opts.listenPort,
    configDir,
    queueDir,
    logFile,
    masterPid,
    pids,
    async queueSize() {
      let n = 0;
      const walk = async (dir: string) => {
        let entries;
        try {
          entries = await fsp.readdir(dir, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          if (e.isDirectory()) await walk(path.join(dir, e.name));
          else n++;
        }
      };
      for (const q of ['incoming', 'active', 'deferred', 'hold']) await walk(path.join(queueDir, q));
      return n;
    },
    stop,
  };
}

/** Synchronous best-effort check that a binary exists (for skipping tests). */
export function haveCommand(cmd: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  return r.status === 0;
}
