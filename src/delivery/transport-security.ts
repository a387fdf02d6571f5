// What transport security a delivery attempt needs, decided per route before connecting:
// the TLS level (an admin's entry in tls_policies, the relay domain's require-TLS flag,
// the receiving domain's MTA-STS policy, or opportunistic TLS by default), which MX
// hosts MTA-STS allows, and the smarthost's login. The connection itself (smtp-client.ts)
// then checks what was asked and reports what it got.
import type { Logger } from 'pino';
import type { Db } from '../db/database.ts';
import type { DnsResolver } from '../dns/resolver.ts';
import type { MasterKey } from '../keys/master-key.ts';
import type { PolicyStore } from '../smtp/relay-policy.ts';
import { listTlsPolicies, type TlsLevel } from '../db/repos/tls-policies.ts';
import { getSmarthostLogin, SMARTHOST_PASSWORD_AAD, type SmarthostTls } from '../db/repos/smarthost-credentials.ts';
import type { CachedStsPolicy } from '../db/repos/mta-sts-cache.ts';
import { MtaStsResolver } from './mta-sts.ts';
import { parseNextHop, type Route } from './route.ts';
import { trustStore, type TrustStore } from './tls-trust.ts';

export interface SmarthostLogin {
  user: string;
  pass: string;
  tls: SmarthostTls;
}

export interface TransportPlan {
  level: TlsLevel;
  /** Why this level, for the trace: "default", "tls-policy example.com", "relay domain requires TLS", "MTA-STS enforce", ... */
  source: string;
  /** The receiving domain's MTA-STS policy when one applies (enforce or testing). */
  sts: CachedStsPolicy | null;
  /** Trace note on the MTA-STS lookup (a fetch that failed, a cached policy standing in). */
  stsNote: string | null;
  /** Set when the route is the smarthost and a login is stored. */
  login: SmarthostLogin | null;
}

export interface TransportSecurityOptions {
  db: Db;
  dns: DnsResolver;
  policy: PolicyStore;
  masterKey: () => MasterKey;
  log: Logger;
}

const RANK: Record<TlsLevel, number> = { none: 0, may: 1, encrypt: 2, verify: 3, dane: 4 };

/** The stricter of two levels. */
export function atLeast(level: TlsLevel, floor: TlsLevel): TlsLevel {
  return RANK[level] >= RANK[floor] ? level : floor;
}

interface Loaded {
  serial: number;
  levels: Map<string, TlsLevel>;
  login: SmarthostLogin | null;
  loginError: string | null;
}

export class TransportSecurity {
  readonly sts: MtaStsResolver;
  #loaded: Loaded | null = null;
  #loading: Promise<Loaded> | null = null;

  constructor(private readonly o: TransportSecurityOptions) {
    this.sts = new MtaStsResolver({
      db: o.db,
      dns: o.dns,
      secureContext: () => this.trust().secureContext,
      port: () => o.policy.cached().settings['delivery.mtaStsPort'],
    });
  }

  /** The roots certificates are verified against (bundled, system, delivery.tlsCaFile). */
  trust(): TrustStore {
    return trustStore(this.o.policy.cached().settings['delivery.tlsCaFile']);
  }

  async plan(route: Route, requireTls: boolean): Promise<TransportPlan> {
    const loaded = await this.#current();
    const settings = this.o.policy.cached().settings;
    const smarthost = settings['delivery.smarthost'] ? parseNextHop(settings['delivery.smarthost']) : null;
    const isSmarthost = route.kind === 'host' && smarthost !== null && smarthost.host.toLowerCase() === route.host.toLowerCase() && smarthost.port === route.port;
    if (isSmarthost && loaded.loginError) throw new Error(loaded.loginError);
    const login = isSmarthost ? loaded.login : null;

    const explicit = lookupLevel(loaded.levels, route);
    let level: TlsLevel = 'may';
    let source = 'default (opportunistic)';
    let sts: CachedStsPolicy | null = null;
    let stsNote: string | null = null;
    if (explicit) {
      // The admin's own entry wins over what the domain publishes (as Postfix's policy maps do).
      level = explicit.level;
      source = `tls-policy ${explicit.key}`;
    } else if (route.kind === 'mx' && settings['delivery.mtaSts']) {
      const found = await this.sts.lookup(route.domain);
      stsNote = found.error ?? null;
      if (found.policy && found.policy.mode !== 'none') {
        sts = found.policy;
        if (sts.mode === 'enforce') {
          level = 'verify';
          source = `MTA-STS enforce (policy ${sts.id})`;
        } else {
          source = `MTA-STS testing (policy ${sts.id}), opportunistic`;
        }
      }
    }
    if (requireTls && RANK[level] < RANK.encrypt) {
      level = 'encrypt';
      source = 'relay domain requires TLS';
    }
    // A password is never sent in clear.
    if (login && RANK[level] < RANK.encrypt) {
      level = 'encrypt';
      source = 'smarthost login (TLS required before AUTH)';
    }
    return { level, source, sts, stsNote, login };
  }

  async #current(): Promise<Loaded> {
    const serial = this.o.policy.cached().serial;
    if (this.#loaded && this.#loaded.serial === serial) return this.#loaded;
    this.#loading ??= this.#load(serial).finally(() => (this.#loading = null));
    return this.#loading;
  }

  async #load(serial: number): Promise<Loaded> {
    const [policies, sealed] = await Promise.all([listTlsPolicies(this.o.db), getSmarthostLogin(this.o.db)]);
    let login: SmarthostLogin | null = null;
    let loginError: string | null = null;
    if (sealed) {
      try {
        login = { user: sealed.username, pass: this.o.masterKey().decryptString(sealed.passwordSealed, SMARTHOST_PASSWORD_AAD), tls: sealed.tls };
      } catch (err) {
        // Sending without the login would only be refused: the mail waits for a fix instead.
        loginError = `the smarthost password cannot be unsealed with this install's master key (${(err as Error).message}); set it again with "hermes smarthost set --user ... --password-file ..."`;
        this.o.log.error({ err }, 'smarthost password cannot be unsealed');
      }
    }
    const loaded = { serial, levels: new Map(policies.map((p) => [p.destination, p.level])), login, loginError };
    this.#loaded = loaded;
    return loaded;
  }
}

/**
 * The admin's entry for a route: the recipient domain for MX delivery ("example.com",
 * then ".example.com"-style entries for its parents), the host name (or "[address]")
 * for a next hop or the smarthost.
 */
function lookupLevel(levels: Map<string, TlsLevel>, route: Route): { key: string; level: TlsLevel } | null {
  if (!levels.size) return null;
  const name = (route.kind === 'mx' ? route.domain : /^[0-9.]+$|:/.test(route.host) ? `[${route.host}]` : route.host).toLowerCase();
  const exact = levels.get(name);
  if (exact) return { key: name, level: exact };
  if (name.startsWith('[')) return null;
  const labels = name.split('.');
  for (let i = 1; i < labels.length; i++) {
    const key = `.${labels.slice(i).join('.')}`;
    const hit = levels.get(key);
    if (hit) return { key, level: hit };
  }
  return null;
}
