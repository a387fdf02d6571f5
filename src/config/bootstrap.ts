// The bootstrap file: the only configuration that is not data. It says where the data
// lives and what to listen on; everything else (domains, networks, policies, keys)
// lives in the database and is edited through the CLI, API or console.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve, isAbsolute } from 'node:path';
import { isPostgresLocation, resolveDatabaseLocation } from '../db/location.ts';

export interface ListenerConfig {
  host: string;
  port: number;
}

export interface BootstrapConfig {
  hostname: string;
  smtp: {
    mx: ListenerConfig;
    /** Message submission with STARTTLS required before AUTH (587); null: off. */
    submission: ListenerConfig | null;
    /** Message submission over implicit TLS (465, RFC 8314); null: off. */
    submissions: ListenerConfig | null;
  };
  /** The HTTPS server: REST API, API reference and admin console (certificate: tls). */
  http: ListenerConfig;
  storage: {
    /**
     * The database: a SQLite file (`sqlite:PATH` or a plain path, relative to the data
     * directory) or a PostgreSQL URL (`postgres://user:password@host:5432/hermes`), which
     * several gateway nodes can share.
     */
    database: string;
    /** Spool: messages waiting for delivery (when storage.messages is "spool"). */
    spool: string;
    /**
     * Where queued messages' bytes live: "spool" (files in storage.spool, fsync'd; the
     * default on SQLite) or "database" (chunks in the database, committed with the index;
     * the default on PostgreSQL, so every node sharing it can deliver every message).
     */
    messages?: 'spool' | 'database';
    /** Data tier: quarantine and other long-lived message stores. */
    data: string;
    /** Archive tier: the encrypted archive. */
    archive: string;
  };
  /** The bootstrap certificate (self-signed by init), served only while the certificate store is empty. */
  tls: { cert: string; key: string };
  acme: {
    /** The plain-HTTP listener answering ACME http-01 challenges (null: none). */
    http: ListenerConfig | null;
    /** A CA file trusted for ACME directories besides the public roots (a private CA, pebble). */
    caFile: string | null;
    /** How often ACME certificates are checked for renewal (seconds). */
    renewCheckSeconds: number;
  };
  masterKeyFile: string;
  /** DNS servers ("ip" or "ip:port"); empty = the system's resolvers. */
  dnsServers: string[];
  /** Number of gateway worker processes sharing the listeners (0 = one per CPU core). */
  workers: number;
  /**
   * This node's name among the gateways sharing one database (default: the machine's host
   * name). Its workers hold queue leases as "<nodeName>/<worker>", so it must be unique:
   * two nodes on one machine need names of their own.
   */
  nodeName?: string;
  log: { level: string };
}

export const CONFIG_FILE_NAME = 'hermes.json';

/** Where this configuration keeps queued messages' bytes (see storage.messages). */
export function messagesInDatabase(cfg: Pick<BootstrapConfig, 'storage'>): boolean {
  const m = cfg.storage.messages;
  if (m !== undefined && m !== 'spool' && m !== 'database') throw new Error(`storage.messages must be "spool" or "database", not ${JSON.stringify(m)}`);
  return (m ?? (isPostgresLocation(cfg.storage.database) ? 'database' : 'spool')) === 'database';
}

export function defaultBootstrap(hostname: string): BootstrapConfig {
  return {
    hostname,
    smtp: { mx: { host: '0.0.0.0', port: 25 }, submission: { host: '0.0.0.0', port: 587 }, submissions: { host: '0.0.0.0', port: 465 } },
    http: { host: '0.0.0.0', port: 8443 },
    storage: { database: 'hermes.db', spool: 'spool', data: 'data', archive: 'archive' },
    tls: { cert: 'tls/cert.pem', key: 'tls/key.pem' },
    acme: { http: { host: '0.0.0.0', port: 80 }, caFile: null, renewCheckSeconds: 3600 },
    masterKeyFile: 'keys/master.key',
    dnsServers: [],
    workers: 0,
    log: { level: 'info' },
  };
}

/** A loaded bootstrap with every path made absolute. */
export interface LoadedConfig extends BootstrapConfig {
  dataDir: string;
  configFile: string;
}

export function configPath(dataDir: string): string {
  return join(resolve(dataDir), CONFIG_FILE_NAME);
}

/** The bootstrap file merged with defaults, paths as written. */
export function readBootstrap(dataDir: string): BootstrapConfig {
  const file = configPath(dataDir);
  if (!existsSync(file)) {
    throw new Error(`no gateway configuration at ${file}: run "hermes init --data-dir ${dataDir}" first`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  return mergeDefaults(raw as Partial<BootstrapConfig>);
}

export function loadConfig(dataDir: string): LoadedConfig {
  const file = configPath(dataDir);
  const cfg = readBootstrap(dataDir);
  const base = resolve(dataDir);
  const abs = (p: string) => (isAbsolute(p) ? p : join(base, p));
  return {
    ...cfg,
    dataDir: base,
    configFile: file,
    storage: {
      database: resolveDatabaseLocation(cfg.storage.database, base),
      spool: abs(cfg.storage.spool),
      ...(cfg.storage.messages ? { messages: cfg.storage.messages } : {}),
      data: abs(cfg.storage.data),
      archive: abs(cfg.storage.archive),
    },
    tls: { cert: abs(cfg.tls.cert), key: abs(cfg.tls.key) },
    acme: { ...cfg.acme, caFile: cfg.acme.caFile ? abs(cfg.acme.caFile) : null },
    masterKeyFile: abs(cfg.masterKeyFile),
  };
}

function mergeDefaults(raw: Partial<BootstrapConfig>): BootstrapConfig {
  if (typeof raw !== 'object' || raw === null) throw new Error('configuration must be a JSON object');
  const d = defaultBootstrap(raw.hostname ?? 'localhost');
  return {
    ...d,
    ...raw,
    // A file written before submission existed keeps it off: an upgrade opens no new port.
    smtp: { mx: { ...d.smtp.mx, ...raw.smtp?.mx }, submission: listener(raw.smtp?.submission), submissions: listener(raw.smtp?.submissions) },
    http: { ...d.http, ...raw.http },
    storage: { ...d.storage, ...raw.storage },
    tls: { ...d.tls, ...raw.tls },
    acme: { ...d.acme, ...raw.acme, http: raw.acme?.http === null ? null : { ...d.acme.http!, ...raw.acme?.http } },
    log: { ...d.log, ...raw.log },
    dnsServers: raw.dnsServers ?? d.dnsServers,
  };
}

function listener(raw: Partial<ListenerConfig> | null | undefined): ListenerConfig | null {
  if (!raw) return null;
  if (!Number.isInteger(raw.port) || raw.port! < 1 || raw.port! > 65535) throw new Error(`invalid submission listener ${JSON.stringify(raw)}: expected {"host": "0.0.0.0", "port": 587}`);
  return { host: raw.host ?? '0.0.0.0', port: raw.port! };
}

export function writeConfig(dataDir: string, cfg: BootstrapConfig): void {
  writeFileSync(configPath(dataDir), JSON.stringify(cfg, null, 2) + '\n', { mode: 0o640 });
}
