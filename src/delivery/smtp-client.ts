// Outbound SMTP with nodemailer's SMTP connection: a pool of reusable connections per
// destination (address, port, TLS level, login) with a concurrency cap, and one outcome
// per recipient. The TLS level comes from transport-security.ts: none (no STARTTLS), may
// (opportunistic), encrypt (TLS required, any certificate), verify (the certificate must
// chain to a trusted root and name the host). Every connection reports the protocol,
// cipher and verification result it got, whatever the level.
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Destination } from './destinations.ts';
import type { TlsLevel } from '../db/repos/tls-policies.ts';
import type { SmarthostLogin } from './transport-security.ts';
import { trustStore } from './tls-trust.ts';

export type RecipientOutcome = 'delivered' | 'deferred' | 'bounced';

export interface RecipientResult {
  address: string;
  outcome: RecipientOutcome;
  /** The remote reply (or our description of a local failure). */
  reply: string;
  status: string;
}

export interface SendResult {
  remote: string;
  tls: boolean;
  /** What TLS the connection had (null: plain text). */
  tlsInfo: TlsInfo | null;
  recipients: RecipientResult[];
}

export interface TlsInfo {
  version: string;
  cipher: string;
  /** The certificate chains to a trusted root and names the host we meant to reach. */
  verified: boolean;
  /** Why it is not verified ("SELF_SIGNED_CERT_IN_CHAIN", "Hostname/IP does not match ..."). */
  verifyError: string | null;
}

/** How to connect to one destination. */
export interface ConnectPlan {
  level: TlsLevel;
  /** The name the server's certificate must carry (the MX host name, the next hop). */
  verifyName: string;
  /** The smarthost's login: AUTH after TLS (STARTTLS, or implicit TLS from the first byte). */
  login: SmarthostLogin | null;
  /** Trusted roots for verification. */
  secureContext: SecureContext;
  /** Why this level, for error messages ("MTA-STS enforce (policy 2024)", "tls-policy example.com"). */
  source: string;
}

/** The destination could not be used at all (connect, greeting, TLS): try the next one. */
export class ConnectionFailure extends Error {
  constructor(
    message: string,
    readonly status: string,
  ) {
    super(message);
  }
}

export interface SmtpClientOptions {
  hostname: string;
  maxPerDestination: number;
  connectTimeoutMs: number;
  /** How long an unused connection stays open for the next message. */
  idleTimeoutMs: number;
  log: Logger;
}

/** Opportunistic TLS (the default between MTAs), verified against the bundled and system roots: for tests and tools. */
export function opportunisticPlan(verifyName: string): ConnectPlan {
  return { level: 'may', verifyName, login: null, secureContext: trustStore(null).secureContext, source: 'default (opportunistic)' };
}

interface PooledConnection {
  conn: SMTPConnection;
  alive: boolean;
  secure: boolean;
  tlsInfo: TlsInfo | null;
  idleTimer: NodeJS.Timeout | null;
}

class DestinationPool {
  idle: PooledConnection[] = [];
  open = 0;
  waiters: Array<(c: PooledConnection | null) => void> = [];
  constructor(readonly dest: Destination) {}
}

export class SmtpClientPool {
  readonly #pools = new Map<string, DestinationPool>();
  #closed = false;

  constructor(private readonly o: SmtpClientOptions) {}

  async send(dest: Destination, plan: ConnectPlan, envelope: { from: string; to: string[] }, message: Buffer): Promise<SendResult> {
    const pool = this.#pool(dest, plan);
    const pc = await this.#acquire(pool, plan);
    const remote = `${dest.name}[${dest.address}]:${dest.port}`;
    let reusable = true;
    try {
      const eightBit = hasEightBitBytes(message);
      const refused = needsUnsupportedExtension(pc.conn, envelope, eightBit);
      if (refused) return { remote, tls: pc.secure, tlsInfo: pc.tlsInfo, recipients: envelope.to.map((a) => ({ address: a, outcome: 'bounced', ...refused })) };
      const result = await sendOn(pc.conn, envelope, message, eightBit);
      return { remote, tls: pc.secure, tlsInfo: pc.tlsInfo, recipients: outcomes(envelope.to, result) };
    } catch (err) {
      const e = err as SmtpError;
      if (isTransactionError(e)) {
        reusable = await resetQuietly(pc.conn);
        return { remote, tls: pc.secure, tlsInfo: pc.tlsInfo, recipients: envelope.to.map((a) => outcomeFromError(a, e)) };
      }
      reusable = false;
      // The connection broke mid-transaction: we cannot know whether the server took
      // the message, so it is deferred (a duplicate beats a loss).
      const reply = e.response ?? `connection to ${remote} failed: ${e.message}`;
      return { remote, tls: pc.secure, tlsInfo: pc.tlsInfo, recipients: envelope.to.map((a) => ({ address: a, outcome: 'deferred', reply, status: '4.4.2' })) };
    } finally {
      this.#release(pool, pc, reusable && pc.alive);
    }
  }

  close(): void {
    this.#closed = true;
    for (const pool of this.#pools.values()) {
      for (const pc of pool.idle.splice(0)) this.#discard(pool, pc);
      for (const w of pool.waiters.splice(0)) w(null);
    }
  }

  #pool(dest: Destination, plan: ConnectPlan): DestinationPool {
    // A connection is shared only by deliveries that asked for the same thing of it.
    // A changed login (user or password) gets new connections; the password only as a hash.
    const login = plan.login ? `${plan.login.tls}:${plan.login.user}:${createHash('sha256').update(plan.login.pass).digest('hex').slice(0, 16)}` : '';
    const key = `${dest.address}|${dest.port}|${plan.level}|${plan.verifyName}|${login}`;
    let p = this.#pools.get(key);
    if (!p) {
      p = new DestinationPool(dest);
      this.#pools.set(key, p);
    }
    return p;
  }

  async #acquire(pool: DestinationPool, plan: ConnectPlan): Promise<PooledConnection> {
    while (pool.idle.length) {
      const pc = pool.idle.pop()!;
      if (pc.idleTimer) clearTimeout(pc.idleTimer);
      pc.idleTimer = null;
      if (pc.alive) return pc;
      pool.open--;
    }
    if (pool.open < this.o.maxPerDestination) {
      pool.open++;
      try {
        return await this.#connect(pool, plan);
      } catch (err) {
        pool.open--;
        this.#wakeWaiter(pool);
        throw err;
      }
    }
    const pc = await new Promise<PooledConnection | null>((resolve) => pool.waiters.push(resolve));
    if (!pc) {
      if (this.#closed) throw new ConnectionFailure('delivery is shutting down', '4.3.2');
      return this.#acquire(pool, plan); // a slot was freed: open our own connection
    }
    return pc;
  }

  #release(pool: DestinationPool, pc: PooledConnection, reusable: boolean): void {
    if (!reusable || this.#closed) {
      this.#discard(pool, pc);
      this.#wakeWaiter(pool);
      return;
    }
    const waiter = pool.waiters.shift();
    if (waiter) return waiter(pc);
    pc.idleTimer = setTimeout(() => {
      const i = pool.idle.indexOf(pc);
      if (i >= 0) pool.idle.splice(i, 1);
      this.#discard(pool, pc);
    }, this.o.idleTimeoutMs);
    pc.idleTimer.unref();
    pool.idle.push(pc);
  }

  /** A slot became free: let one waiter open a new connection. */
  #wakeWaiter(pool: DestinationPool): void {
    const w = pool.waiters.shift();
    if (w) w(null);
  }

  #discard(pool: DestinationPool, pc: PooledConnection): void {
    if (pc.idleTimer) clearTimeout(pc.idleTimer);
    if (pc.alive) {
      pc.alive = false;
      pc.conn.quit();
    }
    pool.open--;
  }

  /** `plan` is this delivery's (same level, name and login as the pool's; its reason may differ). */
  #connect(pool: DestinationPool, plan: ConnectPlan): Promise<PooledConnection> {
    const { dest } = pool;
    const remote = `${dest.name}[${dest.address}]:${dest.port}`;
    if (plan.level === 'dane') {
      // RFC 7672 needs TLSA records with a DNSSEC-validated (AD) answer; the resolver here
      // does not validate, so a "dane" destination waits rather than go unauthenticated.
      return Promise.reject(new ConnectionFailure(`TLS level "dane" (${plan.source}) needs a DNSSEC-validating resolver, which this gateway does not have; not sent to ${remote}`, '4.7.5'));
    }
    const implicit = plan.login?.tls === 'implicit';
    const requireTls = plan.level === 'encrypt' || plan.level === 'verify';
    const conn = new SMTPConnection({
      host: dest.address,
      port: dest.port,
      name: this.o.hostname,
      secure: implicit,
      requireTLS: requireTls && !implicit,
      opportunisticTLS: plan.level === 'may',
      ignoreTLS: plan.level === 'none',
      // The handshake accepts any certificate (opportunistic TLS between MTAs, RFC 7435);
      // verification is checked after it (below), so every delivery reports its result
      // and "verify" refuses with the reason instead of a bare handshake error.
      tls: { rejectUnauthorized: false, secureContext: plan.secureContext, ...(isIP(plan.verifyName) ? {} : { servername: plan.verifyName }) },
      connectionTimeout: this.o.connectTimeoutMs,
      greetingTimeout: this.o.connectTimeoutMs,
      socketTimeout: 5 * 60_000,
      allowInternalNetworkInterfaces: true,
    } as SMTPConnection.Options);
    const pc: PooledConnection = { conn, alive: true, secure: false, tlsInfo: null, idleTimer: null };
    const established = new Promise<PooledConnection>((resolve, reject) => {
      let settled = false;
      conn.on('error', (err: SmtpError) => {
        pc.alive = false;
        if (!settled) {
          settled = true;
          const reason = err.response ?? err.message;
          // With TLS required, any failure before the session is encrypted (no STARTTLS
          // offered, STARTTLS refused, handshake failed) means: not sent, and why.
          if (requireTls && !conn.secure && (err.code === 'ETLS' || err.command === 'STARTTLS' || /TLS/i.test(err.message))) {
            reject(new ConnectionFailure(`TLS is required for this destination (${plan.source}) but could not be started (${reason})`, '4.7.5'));
          } else {
            reject(new ConnectionFailure(reason, '4.4.1'));
          }
        }
      });
      conn.on('end', () => {
        pc.alive = false;
        // A server that closes before its greeting makes nodemailer end without an
        // error (and never call back): without this the attempt would wait forever.
        if (!settled) {
          settled = true;
          reject(new ConnectionFailure(`connection to ${dest.name}[${dest.address}]:${dest.port} closed before the greeting`, '4.4.1'));
        }
      });
      conn.connect(() => {
        settled = true;
        pc.secure = conn.secure;
        pc.tlsInfo = tlsInfoOf(conn, plan.verifyName);
        noDelay(conn);
        resolve(pc);
      });
    });
    return established.then(async (c) => {
      try {
        if (requireTls && !c.secure) throw new ConnectionFailure(`TLS is required for this destination (${plan.source}) but the session to ${remote} is not encrypted`, '4.7.5');
        if (plan.level === 'verify' && !c.tlsInfo?.verified) {
          throw new ConnectionFailure(`the TLS certificate of ${remote} is not valid for ${plan.verifyName} (${c.tlsInfo?.verifyError ?? 'not verified'}); ${plan.source} requires a verified certificate`, '4.7.5');
        }
        if (plan.login) await login(c.conn, plan.login, remote);
        return c;
      } catch (err) {
        c.alive = false;
        c.conn.quit();
        throw err;
      }
    });
  }
}

/** The TLS the session has, and whether the certificate is trusted and names `name`. */
function tlsInfoOf(conn: SMTPConnection, name: string): TlsInfo | null {
  const socket = (conn as unknown as { _socket?: unknown })._socket;
  if (!conn.secure || !(socket instanceof TLSSocket)) return null;
  const cipher = socket.getCipher();
  // With a servername, Node reports a name mismatch as the bare code
  // ERR_TLS_CERT_ALTNAME_INVALID; checkServerIdentity says which names the certificate has.
  const chainError = socket.authorized ? null : String(socket.authorizationError ?? 'certificate not trusted');
  let verifyError = chainError === 'ERR_TLS_CERT_ALTNAME_INVALID' ? null : chainError;
  if (!verifyError) {
    const mismatch = checkServerIdentity(name, socket.getPeerCertificate());
    if (mismatch) verifyError = mismatch.message;
    else if (chainError) verifyError = chainError;
  }
  return { version: socket.getProtocol() ?? 'unknown', cipher: cipher?.standardName ?? cipher?.name ?? 'unknown', verified: verifyError === null, verifyError };
}

/** AUTH with the smarthost's login; a refusal defers (the password is ours to fix, not the message's fault). */
function login(conn: SMTPConnection, l: SmarthostLogin, remote: string): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.login({ user: l.user, pass: l.pass }, (err) => {
      if (!err) return resolve();
      const e = err as SmtpError;
      reject(new ConnectionFailure(`the smarthost ${remote} refused the login of "${l.user}": ${e.response ?? e.message}`, '4.7.8'));
    });
  });
}

interface SmtpError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  rejectedErrors?: SmtpError[];
  recipient?: string;
}

interface SendInfo {
  accepted: string[];
  rejected: string[];
  rejectedErrors?: SmtpError[];
  response: string;
}

/**
 * Turns Nagle's algorithm off on a connection: SMTP is a conversation of small writes
 * each waiting for a reply, and the final "." after a message's last chunk would
 * otherwise wait for the chunk's ACK. nodemailer has no option for it; the socket it
 * opened is its `_socket` (a TLS socket after STARTTLS passes the call on).
 */
function noDelay(conn: SMTPConnection): void {
  (conn as unknown as { _socket?: { setNoDelay?: (on: boolean) => unknown } })._socket?.setNoDelay?.(true);
}

function sendOn(conn: SMTPConnection, envelope: { from: string; to: string[] }, message: Buffer, eightBit: boolean): Promise<SendInfo> {
  return new Promise((resolve, reject) => {
    // BODY=8BITMIME when the bytes need it (RFC 6152); nodemailer adds SMTPUTF8 itself
    // when an address needs it and the server offers it.
    const env = { from: envelope.from, to: envelope.to, use8BitMime: eightBit };
    conn.send(env as SMTPConnection.Envelope, message, (err, info) => (err ? reject(err) : resolve(info as unknown as SendInfo)));
  });
}

function hasEightBitBytes(message: Buffer): boolean {
  for (let i = 0; i < message.length; i++) if (message[i]! > 0x7f) return true;
  return false;
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A next hop without the extension the message needs cannot take it, now or later, so
 * the recipients bounce (a deterministic failure gets a permanent answer):
 * - a UTF-8 address without SMTPUTF8 (RFC 6531 section 3.2): 5.6.7;
 * - 8-bit content without 8BITMIME: RFC 6152 lets the client downgrade to 7 bit or
 *   return the message; we return it (5.6.3), because re-encoding the body would break
 *   the sender's DKIM signature and our own, and servers without 8BITMIME are rare.
 */
function needsUnsupportedExtension(conn: SMTPConnection, envelope: { from: string; to: string[] }, eightBit: boolean): { reply: string; status: string } | null {
  const offered = (conn as unknown as { _supportedExtensions?: string[] })._supportedExtensions ?? [];
  if ((NON_ASCII.test(envelope.from) || envelope.to.some((a) => NON_ASCII.test(a))) && !offered.includes('SMTPUTF8')) {
    return { reply: '553 5.6.7 the next hop does not support SMTPUTF8, needed for a non-ASCII address', status: '5.6.7' };
  }
  if (eightBit && !offered.includes('8BITMIME')) {
    return { reply: '554 5.6.3 the next hop does not support 8BITMIME, needed for 8-bit content', status: '5.6.3' };
  }
  return null;
}

/** The server answered (4xx/5xx to MAIL, RCPT or DATA): the connection is still usable. */
function isTransactionError(e: SmtpError): boolean {
  return typeof e.responseCode === 'number' && (e.code === 'EENVELOPE' || e.code === 'EMESSAGE' || e.code === 'EPROTOCOL');
}

function resetQuietly(conn: SMTPConnection): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      conn.reset((err) => resolve(!err));
    } catch {
      resolve(false);
    }
  });
}

function outcomes(to: string[], info: SendInfo): RecipientResult[] {
  const rejected = new Map((info.rejectedErrors ?? []).map((e) => [e.recipient ?? '', e]));
  return to.map((address) => {
    const e = rejected.get(address);
    if (e) return outcomeFromError(address, e);
    return { address, outcome: 'delivered', reply: info.response, status: enhancedOf(info.response) ?? '2.0.0' };
  });
}

function outcomeFromError(address: string, e: SmtpError): RecipientResult {
  const perRcpt = e.rejectedErrors?.find((r) => r.recipient === address);
  const err = perRcpt ?? e;
  const code = err.responseCode ?? 451;
  const reply = err.response ?? err.message;
  const status = enhancedOf(reply) ?? `${Math.floor(code / 100)}.0.0`;
  return { address, outcome: code >= 500 ? 'bounced' : 'deferred', reply, status };
}

function enhancedOf(reply: string | undefined): string | null {
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply ?? '');
  return m?.[1] ?? null;
}
