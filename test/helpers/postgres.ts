// A throwaway PostgreSQL 15 cluster for tests: Debian's postgresql package, initdb'd in a
// temporary directory, listening on a free loopback port, run as the postgres user (the
// tests run as root, and PostgreSQL refuses to). One cluster per test process, started on
// first use and stopped when the process exits; each caller gets a database of its own.
//
//   const url = await freshPostgresDatabase();      // postgres://postgres@127.0.0.1:PORT/hermes_N
//   const pg = await startPostgres();                // a cluster of one's own (stop() it)
//
// HERMES_TEST_DB=postgres makes the database helpers (temp-db.ts, gateway.ts) use it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { findFreePort } from './peers.ts';

const BIN = '/usr/lib/postgresql/15/bin';

export interface PostgresCluster {
  port: number;
  /** postgres://postgres@127.0.0.1:PORT/<database> */
  url(database?: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Kills the server outright (SIGKILL of the postmaster: a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data (after kill() or stop()). */
  restart(): Promise<void>;
  /** Fast shutdown, then the directory is removed. */
  stop(): Promise<void>;
  output(): string;
}

export interface StartPostgresOptions {
  /**
   * fsync and synchronous commit as in production (the benchmark). Tests default to off:
   * the cluster is thrown away, and a crash of the machine is not what they test.
   */
  durable?: boolean;
}

/** True when the tests are asked to run on PostgreSQL (HERMES_TEST_DB=postgres). */
export function testOnPostgres(): boolean {
  return (process.env.HERMES_TEST_DB ?? '').toLowerCase() === 'postgres';
}

function asPostgres(): string[] {
  return userInfo().uid === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
}

export async function startPostgres(o: StartPostgresOptions = {}): Promise<PostgresCluster> {
  if (!existsSync(join(BIN, 'initdb'))) throw new Error(`PostgreSQL 15 is not installed (${BIN}/initdb): run scripts/install-peers.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'hermes-pg-'));
  const data = join(dir, 'data');
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const [cmd0, ...pre] = [...asPostgres(), join(BIN, 'initdb')];
  execFileSync(cmd0!, [...pre, '-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'], { stdio: 'pipe' });
  const port = await findFreePort();
  let child: ChildProcess | null = null;
  let out = '';
  let dbCounter = 0;
  const settings = [
    '-c', 'listen_addresses=127.0.0.1',
    '-c', `unix_socket_directories=${dir}`,
    '-c', 'max_connections=200',
    '-c', 'shared_buffers=64MB',
    ...(o.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
  ];
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;

  const postmasterPid = (): number | null => {
    try {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return null;
    }
  };
  const launch = async () => {
    const [c0, ...cpre] = [...asPostgres(), join(BIN, 'postgres')];
    const c = spawn(c0!, [...cpre, '-D', data, '-p', String(port), ...settings], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    c.once('exit', () => {
      if (child === c) child = null;
    });
    // The server must not keep a finished test process alive: the exit hook stops it.
    c.unref();
    (c.stdout as unknown as { unref(): void }).unref();
    (c.stderr as unknown as { unref(): void }).unref();
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (!child) throw new Error(`PostgreSQL did not start:\n${out.slice(-2000)}`);
      const client = new pg.Client({ connectionString: url() });
      try {
        await client.connect();
        await client.query('select 1');
        await client.end();
        return;
      } catch {
        await client.end().catch(() => {});
        if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections within 60 s:\n${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const waitExit = async () => {
    const deadline = Date.now() + 30_000;
    while (child && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  };
  // A test process that ends without stop() (a failure, Ctrl-C) must not leave a server behind.
  const onExit = () => {
    const pid = postmasterPid();
    if (pid) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  await launch();

  return {
    port,
    url,
    output: () => out,
    createDatabase: (name?: string) => createDatabaseAt(url(), name ?? `hermes_${process.pid}_${++dbCounter}`),
    async kill() {
      const pid = postmasterPid();
      if (pid) process.kill(pid, 'SIGKILL');
      await waitExit();
      // The postmaster's children notice it is gone and exit; the next start recovers.
      await new Promise((r) => setTimeout(r, 500));
    },
    async restart() {
      if (child) return;
      await launch();
    },
    async stop() {
      process.removeListener('exit', onExit);
      const pid = postmasterPid();
      if (pid && child) {
        try {
          process.kill(pid, 'SIGINT'); // fast shutdown: disconnects clients, no waiting for them
        } catch {}
        await waitExit();
      }
      if (child) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let shared: Promise<PostgresCluster> | null = null;

/** The test process's cluster (started on first use, stopped at exit). */
export function sharedPostgres(): Promise<PostgresCluster> {
  shared ??= startPostgres();
  return shared;
}

/**
 * A new empty database: in the cluster scripts/test.sh started for the whole PostgreSQL
 * pass (HERMES_TEST_PG_URL, saving each file an initdb), else in this process's own.
 */
export async function freshPostgresDatabase(): Promise<string> {
  const external = process.env.HERMES_TEST_PG_URL;
  if (external) return createDatabaseAt(external, `hermes_${process.pid}_${++externalCounter}`);
  return (await sharedPostgres()).createDatabase();
}

let externalCounter = 0;

async function createDatabaseAt(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}
