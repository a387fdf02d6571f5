// Runs a real gateway process (the `hermes start` CLI) on a loopback port with its own
// temporary data directory, for integration tests. Configuration is written straight
// into its database, as the CLI would, before or while it runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initDataDir } from '../../src/cli/init-command.ts';
import { loadConfig } from '../../src/config/bootstrap.ts';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { setSetting } from '../../src/config/settings.ts';
import { findFreePort } from './peers.ts';
import { startTestDns } from './dns-server.ts';
import { freshPostgresDatabase, testOnPostgres } from './postgres.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** The built CLI, as an installed gateway runs it (scripts/test.sh builds it first). */
export const HERMES_BIN = join(REPO_ROOT, 'bin/hermes.js');

export interface TestGateway {
  port: number;
  /** The HTTPS console and API port (127.0.0.1). */
  httpPort: number;
  /** https://127.0.0.1:<httpPort> (self-signed certificate: see test/helpers/api.ts). */
  baseUrl: string;
  /** Submission ports (STARTTLS, implicit TLS), when asked for with `submission: true`. */
  submissionPort?: number;
  submissionsPort?: number;
  dataDir: string;
  /** A database handle for configuring and inspecting the gateway. */
  db: Db;
  output(): string;
  /** PID of the running `hermes start` process (the cluster primary), undefined while stopped. */
  pid(): number | undefined;
  /** Runs the hermes CLI against this data directory. */
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  start(): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** Stops the process if running and removes the data directory. */
  cleanup(): Promise<void>;
}

export interface TestGatewayOptions {
  hostname?: string;
  dnsServer?: string;
  /** Create the data directory below this one (e.g. a small tmpfs) instead of the system tmpdir. */
  parentDir?: string;
  /** Run the ACME http-01 listener on this loopback port (default: none, so tests never bind port 80). */
  acmeHttpPort?: number;
  /** Open the submission listeners (587-style STARTTLS and 465-style implicit TLS) on free ports; off otherwise. */
  submission?: boolean;
  /**
   * Run the SpamAssassin rule files (spam.saRules, on in production when they are
   * installed). Off by default here: compiling ~2,500 rules costs each gateway process a
   * second or more of CPU at start, and most tests assert the built-in symbols alone.
   */
  saRules?: boolean;
  /** Use this existing data directory (say, a restored backup) instead of a new one; its ports and DNS are set anew. */
  dataDir?: string;
  /**
   * storage.database for the gateway (e.g. a PostgreSQL URL several test gateways share).
   * Default: hermes.db in the data directory, or with HERMES_TEST_DB=postgres a fresh
   * database in the test process's PostgreSQL cluster.
   */
  database?: string;
}

/**
 * Integration tests run the built gateway; a dist/ older than src/ would test yesterday's
 * code, so that fails loudly instead (scripts/test.sh builds before running the suite).
 */
function assertBuilt(): void {
  const built = join(REPO_ROOT, 'dist/cli/main.js');
  if (!existsSync(built)) throw new Error('dist/ is missing: run "npm run build" first');
  const builtAt = statSync(built).mtimeMs;
  const newer = readdirSync(join(REPO_ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .find((f) => statSync(join(REPO_ROOT, 'src', f)).mtimeMs > builtAt);
  if (newer) throw new Error(`src/${newer} is newer than dist/: run "npm run build" first`);
}

export async function createTestGateway(o: TestGatewayOptions = {}): Promise<TestGateway> {
  assertBuilt();
  const dataDir = o.dataDir ?? mkdtempSync(join(o.parentDir ?? tmpdir(), 'hermes-test-'));
  const port = await findFreePort();
  const httpPort = await findFreePort();
  const submissionPort = o.submission ? await findFreePort() : undefined;
  const submissionsPort = o.submission ? await findFreePort() : undefined;
  // Tests never ask the machine's resolvers: without a zone of its own, a gateway gets an
  // empty local DNS server (every name NXDOMAIN, answered at once).
  const ownDns = o.dnsServer ? null : await startTestDns({});
  // A given (restored) data directory keeps the database it has.
  const database = o.database ?? (testOnPostgres() && !o.dataDir ? await freshPostgresDatabase() : undefined);
  await initDataDir(
    { dataDir, ...(database ? { database } : {}), hostname: o.hostname ?? 'mx.gateway.test', smtpPort: String(port), smtpHost: '127.0.0.1', httpPort: String(httpPort), httpHost: '127.0.0.1',
      submissionPort: submissionPort ? String(submissionPort) : 'off', submissionsPort: submissionsPort ? String(submissionsPort) : 'off', dns: o.dnsServer ?? ownDns!.server,
      ...(o.acmeHttpPort ? { acmeHttpPort: String(o.acmeHttpPort), acmeHttpHost: '127.0.0.1' } : { acmeHttpPort: 'off' }) },
    () => {},
  );
  const db = openDatabase(loadConfig(dataDir).storage.database);
  if (!o.saRules && !o.dataDir) await setSetting(db, 'spam.saRules', false);
  let child: ChildProcess | null = null;
  let out = '';

  const gw: TestGateway = {
    port,
    httpPort,
    baseUrl: `https://127.0.0.1:${httpPort}`,
    ...(submissionPort ? { submissionPort, submissionsPort } : {}),
    dataDir,
    db,
    output: () => out,
    pid: () => child?.pid,
    cli: (args) => runCli([...args, '--data-dir', dataDir]),
    async start() {
      if (child) throw new Error('already running');
      const c = spawn(process.execPath, [HERMES_BIN, 'start', '--data-dir', dataDir], {
        cwd: REPO_ROOT,
        env: { ...process.env, UV_THREADPOOL_SIZE: '16' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      c.once('exit', () => {
        if (child === c) child = null;
      });
      // Generous: a start takes ~1 s alone, but over 15 s on a 2-core box at load 19.
      try {
        await waitForPort(port, 60_000, () => child === c);
        // The HTTPS server starts right after the SMTP listener.
        await waitForPort(httpPort, 30_000, () => child === c);
        if (submissionsPort) await waitForPort(submissionsPort, 30_000, () => child === c);
      } catch (err) {
        throw new Error(`${(err as Error).message}; gateway output:\n${out.slice(-3000)}`);
      }
    },
    async stop() {
      const c = child;
      if (!c) return null;
      const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
      c.kill('SIGTERM');
      const code = await exited;
      child = null;
      return code;
    },
    async kill() {
      const c = child;
      if (!c) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
      child = null;
    },
    async cleanup() {
      if (child) await gw.kill();
      await db.destroy();
      await ownDns?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return gw;
}

export function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  assertBuilt();
  return new Promise((resolvePromise) => {
    const c = spawn(process.execPath, [HERMES_BIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

export async function waitForPort(port: number, timeoutMs: number, stillAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (!stillAlive()) throw new Error(`gateway exited before listening on ${port}`);
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls `fn` until it returns a truthy value. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
