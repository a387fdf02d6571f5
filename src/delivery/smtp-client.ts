// Outbound SMTP with nodemailer's SMTP connection: a pool of reusable connections per
// destination (address, port, TLS requirement) with a concurrency cap, opportunistic
// STARTTLS by default and required where configured, and one outcome per recipient.
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { Logger } from 'pino';
import type { Destination } from './destinations.ts';

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
  recipients: RecipientResult[];
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

interface PooledConnection {
  conn: SMTPConnection;
  alive: boolean;
  secure: boolean;
  idleTimer: NodeJS.Timeout | null;
}

class DestinationPool {
  idle: PooledConnection[] = [];
  open = 0;
  waiters: Array<(c: PooledConnection | null) => void> = [];
  constructor(
    readonly dest: Destination,
    readonly requireTls: boolean,
  ) {}
}

export class SmtpClientPool {
  readonly #pools = new Map<string, DestinationPool>();
  #closed = false;

  constructor(private readonly o: SmtpClientOptions) {}

  async send(dest: Destination, requireTls: boolean, envelope: { from: string; to: string[] }, message: Buffer): Promise<SendResult> {
    const pool = this.#pool(dest, requireTls);
    const pc = await this.#acquire(pool);
    const remote = `${dest.name}[${dest.address}]:${dest.port}`;
    let reusable = true;
    try {
      const eightBit = hasEightBitBytes(message);
      const refused = needsUnsupportedExtension(pc.conn, envelope, eightBit);
      if (refused) return { remote, tls: pc.secure, recipients: envelope.to.map((a) => ({ address: a, outcome: 'bounced', ...refused })) };
      const result = await sendOn(pc.conn, envelope, message, eightBit);
      return { remote, tls: pc.secure, recipients: outcomes(envelope.to, result) };
    } catch (err) {
      const e = err as SmtpError;
      if (isTransactionError(e)) {
        reusable = await resetQuietly(pc.conn);
        return { remote, tls: pc.secure, recipients: envelope.to.map((a) => outcomeFromError(a, e)) };
      }
      reusable = false;
      // The connection broke mid-transaction: we cannot know whether the server took
      // the message, so it is deferred (a duplicate beats a loss).
      const reply = e.response ?? `connection to ${remote} failed: ${e.message}`;
      return { remote, tls: pc.secure, recipients: envelope.to.map((a) => ({ address: a, outcome: 'deferred', reply, status: '4.4.2' })) };
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

  #pool(dest: Destination, requireTls: boolean): DestinationPool {
    const key = `${dest.address}|${dest.port}|${requireTls ? 1 : 0}`;
    let p = this.#pools.get(key);
    if (!p) {
      p = new DestinationPool(dest, requireTls);
      this.#pools.set(key, p);
    }
    return p;
  }

  async #acquire(pool: DestinationPool): Promise<PooledConnection> {
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
        return await this.#connect(pool);
      } catch (err) {
        pool.open--;
        this.#wakeWaiter(pool);
        throw err;
      }
    }
    const pc = await new Promise<PooledConnection | null>((resolve) => pool.waiters.push(resolve));
    if (!pc) {
      if (this.#closed) throw new ConnectionFailure('delivery is shutting down', '4.3.2');
      return this.#acquire(pool); // a slot was freed: open our own connection
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

  #connect(pool: DestinationPool): Promise<PooledConnection> {
    const { dest, requireTls } = pool;
    const conn = new SMTPConnection({
      host: dest.address,
      port: dest.port,
      name: this.o.hostname,
      secure: false,
      requireTLS: requireTls,
      opportunisticTLS: !requireTls,
      // Opportunistic TLS between MTAs does not verify certificates (RFC 7435); policies
      // that do (MTA-STS, DANE) come with the TLS work.
      tls: { rejectUnauthorized: false, servername: dest.name },
      connectionTimeout: this.o.connectTimeoutMs,
      greetingTimeout: this.o.connectTimeoutMs,
      socketTimeout: 5 * 60_000,
      allowInternalNetworkInterfaces: true,
    } as SMTPConnection.Options);
    const pc: PooledConnection = { conn, alive: true, secure: false, idleTimer: null };
    return new Promise((resolve, reject) => {
      let settled = false;
      conn.on('error', (err: SmtpError) => {
        pc.alive = false;
        if (!settled) {
          settled = true;
          const reason = err.response ?? err.message;
          // With TLS required, any failure before the session is encrypted (no STARTTLS
          // offered, STARTTLS refused, handshake failed) means: not sent, and why.
          if (requireTls && !conn.secure && (err.code === 'ETLS' || err.command === 'STARTTLS' || /TLS/i.test(err.message))) {
            reject(new ConnectionFailure(`TLS is required for this destination but could not be started (${reason})`, '4.7.5'));
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
        noDelay(conn);
        resolve(pc);
      });
    });
  }
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
