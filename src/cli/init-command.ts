import { mkdirSync, existsSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import type { Command } from 'commander';
import { configPath, defaultBootstrap, loadConfig, readBootstrap, writeConfig, type BootstrapConfig } from '../config/bootstrap.ts';
import { ensureMasterKey } from '../keys/master-key.ts';
import { ensureSelfSignedCert } from '../keys/self-signed-cert.ts';
import { openDatabase, parseDatabaseLocation, redactDatabaseLocation } from '../db/database.ts';
import { migrate, schemaVersion } from '../db/migrate.ts';
import { withDataDir } from './context.ts';
import { countUsers } from '../db/repos/users.ts';
import { cliActor } from '../services/actor.ts';
import { createUser } from '../services/user-service.ts';

export interface InitOptions {
  dataDir: string;
  hostname?: string;
  smtpPort?: string;
  smtpHost?: string;
  httpPort?: string;
  httpHost?: string;
  /** Port of the STARTTLS submission listener, or "off". */
  submissionPort?: string;
  /** Port of the implicit-TLS submission listener, or "off". */
  submissionsPort?: string;
  dns?: string;
  /** Port of the ACME http-01 listener (default 80), "off" for none. */
  acmeHttpPort?: string;
  acmeHttpHost?: string;
  /** storage.database: a SQLite path or a postgres:// URL (several nodes share one PostgreSQL). */
  database?: string;
}

/**
 * Creates (or completes) a data directory. Safe to run again: it never overwrites a key,
 * a certificate or the database, and only changes the settings given as flags.
 */
export async function initDataDir(o: InitOptions, say: (s: string) => void = console.log): Promise<void> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o750 });
  const file = configPath(o.dataDir);
  let cfg: BootstrapConfig;
  if (existsSync(file)) {
    cfg = readBootstrap(o.dataDir);
    say(`configuration   ${file} (kept)`);
  } else {
    cfg = defaultBootstrap(o.hostname ?? osHostname());
    say(`configuration   ${file} (created)`);
  }
  if (o.hostname) cfg.hostname = o.hostname;
  if (o.smtpPort) cfg.smtp.mx.port = parsePort(o.smtpPort);
  if (o.smtpHost) cfg.smtp.mx.host = o.smtpHost;
  if (o.httpPort) cfg.http.port = parsePort(o.httpPort);
  if (o.httpHost) cfg.http.host = o.httpHost;
  if (o.acmeHttpPort === 'off') cfg.acme.http = null;
  else if (o.acmeHttpPort) cfg.acme.http = { host: cfg.acme.http?.host ?? '0.0.0.0', port: parsePort(o.acmeHttpPort) };
  if (o.acmeHttpHost && cfg.acme.http) cfg.acme.http.host = o.acmeHttpHost;
  if (o.submissionPort) cfg.smtp.submission = o.submissionPort === 'off' ? null : { host: cfg.smtp.submission?.host ?? '0.0.0.0', port: parsePort(o.submissionPort) };
  if (o.submissionsPort) cfg.smtp.submissions = o.submissionsPort === 'off' ? null : { host: cfg.smtp.submissions?.host ?? '0.0.0.0', port: parsePort(o.submissionsPort) };
  // The submission listeners listen where the MX does.
  if (o.smtpHost) for (const l of [cfg.smtp.submission, cfg.smtp.submissions]) if (l) l.host = o.smtpHost;
  if (o.database) {
    parseDatabaseLocation(o.database);
    cfg.storage.database = o.database;
  }
  if (o.dns) cfg.dnsServers = o.dns.split(',').map((s) => s.trim()).filter(Boolean);
  writeConfig(o.dataDir, cfg);
  const loaded = loadConfig(o.dataDir);
  for (const dir of [loaded.storage.spool, loaded.storage.data, loaded.storage.archive]) mkdirSync(dir, { recursive: true, mode: 0o750 });
  say(`storage         spool ${loaded.storage.spool}, data ${loaded.storage.data}, archive ${loaded.storage.archive}`);
  const key = ensureMasterKey(loaded.masterKeyFile);
  say(`master key      ${loaded.masterKeyFile} (${key.created ? 'created: back it up, encrypted secrets need it' : 'kept'})`);
  const cert = await ensureSelfSignedCert(loaded.hostname, loaded.tls.cert, loaded.tls.key);
  say(`certificate     ${loaded.tls.cert} (${cert.created ? `self-signed for ${loaded.hostname}, created` : 'kept'})`);
  const db = openDatabase(loaded.storage.database);
  try {
    const applied = await migrate(db);
    say(`database        ${redactDatabaseLocation(loaded.storage.database)} (schema version ${await schemaVersion(db)}${applied.length ? `, applied ${applied.join(', ')}` : ''})`);
    // The first administrator, once: a generated password (there is no default one),
    // printed this one time, to be changed at the first sign-in.
    if ((await countUsers(db)) === 0) {
      const { password } = await createUser(db, cliActor(), { username: 'admin', role: 'admin' });
      say(`administrator   admin (created)`);
      say(`  FIRST LOGIN PASSWORD for "admin": ${password}`);
      say(`  (shown only this once; you must change it at the first sign-in; lost it? hermes admin reset-password admin)`);
    } else {
      say(`administrator   accounts exist (kept)`);
    }
  } finally {
    await db.destroy();
  }
  say(`SMTP listener   ${loaded.smtp.mx.host}:${loaded.smtp.mx.port} as ${loaded.hostname}`);
  const sub = loaded.smtp.submission;
  const subs = loaded.smtp.submissions;
  say(`submission      ${sub ? `${sub.host}:${sub.port} (STARTTLS, then AUTH)` : 'off'}; ${subs ? `${subs.host}:${subs.port} (implicit TLS)` : 'implicit TLS off'}`);
  say(`HTTPS console   https://${loaded.http.host}:${loaded.http.port}/ (API /api/v1, reference /api/docs)`);
  say(`ACME http-01    ${loaded.acme.http ? `http://${loaded.acme.http.host}:${loaded.acme.http.port}/.well-known/acme-challenge/` : 'off'}`);
}

function parsePort(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`invalid port: ${s}`);
  return n;
}

export function registerInit(program: Command): void {
  withDataDir(
    program
      .command('init')
      .description('create the data directory: configuration, database, master key, TLS certificate (idempotent)')
      .option('--hostname <name>', 'host name the gateway announces (default: this machine\'s)')
      .option('--smtp-port <port>', 'port of the MX listener (default 25)')
      .option('--smtp-host <address>', 'address of the MX listener (default 0.0.0.0)')
      .option('--http-port <port>', 'port of the HTTPS console and API (default 8443)')
      .option('--http-host <address>', 'address of the HTTPS console and API (default 0.0.0.0)')
      .option('--acme-http-port <port>', 'port of the plain-HTTP listener for ACME http-01 challenges (default 80; "off": none)')
      .option('--acme-http-host <address>', 'address of the ACME http-01 listener (default 0.0.0.0)')
      .option('--submission-port <port>', 'port of mail submission with STARTTLS (default 587), or "off"')
      .option('--submissions-port <port>', 'port of mail submission over implicit TLS (default 465), or "off"')
      .option('--dns <servers>', 'comma-separated DNS servers (ip or ip:port); default: the system\'s')
      .option('--database <url>', 'database: a SQLite file (default hermes.db) or postgres://user:password@host/db shared by several nodes'),
  ).action(async (o: InitOptions) => {
    await initDataDir(o);
  });
}
