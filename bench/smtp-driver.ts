// A small SMTP load driver for messages smtp-source cannot send (it sends one
// synthetic body or one file): N parallel sessions, each taking the next message
// from a shared list, over nodemailer's SMTP connection. Like smtp-source without
// -d it opens one connection per message unless reuseConnection is set, and it does
// not use STARTTLS (neither does smtp-source), so both tools cost a server the same.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';

export interface DriveOptions {
  host: string;
  port: number;
  sessions: number;
  messages: Buffer[];
  from: string;
  to: string[];
  reuseConnection?: boolean;
  /** EHLO name. */
  helo?: string;
  /** Per-socket inactivity limit. Default 120 s. */
  socketTimeoutMs?: number;
}

export interface DriveResult {
  /** Messages the server answered 2xx at the end of DATA. */
  accepted: number;
  /** Messages answered 4xx/5xx at some step. */
  rejected: number;
  /** Messages lost to connection errors or timeouts. */
  failed: number;
  /** First few distinct error texts, with how often each happened. */
  errors: Map<string, number>;
  elapsedMs: number;
}

type SmtpError = Error & { responseCode?: number; response?: string; code?: string };

function connect(opts: DriveOptions): Promise<SMTPConnection> {
  return new Promise((resolve, reject) => {
    const conn = new SMTPConnection({
      host: opts.host,
      port: opts.port,
      secure: false,
      ignoreTLS: true,
      name: opts.helo ?? 'bench.client.test',
      connectionTimeout: 30_000,
      greetingTimeout: 30_000,
      socketTimeout: opts.socketTimeoutMs ?? 120_000,
    });
    let settled = false;
    conn.on('error', (err: Error) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
    conn.connect(() => {
      if (!settled) {
        settled = true;
        resolve(conn);
      }
    });
  });
}

function send(conn: SMTPConnection, envelope: SMTPConnection.Envelope, raw: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.send(envelope, raw, (err) => (err ? reject(err) : resolve()));
  });
}

function quit(conn: SMTPConnection): Promise<void> {
  return new Promise((resolve) => {
    const done = () => resolve();
    conn.once('end', done);
    setTimeout(() => {
      conn.close();
      done();
    }, 5000).unref();
    conn.quit();
  });
}

const has8bit = (b: Buffer) => b.some((c) => c > 0x7f);

export async function driveSmtp(opts: DriveOptions): Promise<DriveResult> {
  const res: DriveResult = { accepted: 0, rejected: 0, failed: 0, errors: new Map(), elapsedMs: 0 };
  const note = (e: SmtpError) => {
    const key = (e.response ?? e.message).slice(0, 160);
    if (res.errors.size < 20 || res.errors.has(key)) res.errors.set(key, (res.errors.get(key) ?? 0) + 1);
  };
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    let conn: SMTPConnection | undefined;
    for (;;) {
      const i = next++;
      if (i >= opts.messages.length) break;
      const raw = opts.messages[i]!;
      try {
        conn ??= await connect(opts);
        await send(conn, { from: opts.from, to: opts.to, use8BitMime: has8bit(raw) }, raw);
        res.accepted++;
        if (!opts.reuseConnection) {
          await quit(conn);
          conn = undefined;
        }
      } catch (err) {
        const e = err as SmtpError;
        if (e.responseCode !== undefined && e.responseCode >= 400) res.rejected++;
        else res.failed++;
        note(e);
        // Start clean: the transaction may be half-open after a rejection.
        conn?.close();
        conn = undefined;
      }
    }
    if (conn) await quit(conn);
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.sessions) }, worker));
  res.elapsedMs = performance.now() - started;
  return res;
}

/**
 * Reads messages of the SpamAssassin corpus (ham/ and spam/ under dir): strips the
 * leading mbox "From " line and makes every line end in CRLF, as a well-behaved
 * client would send them. `limit` picks that many files spread evenly over the set.
 */
export async function loadCorpus(dir: string, limit?: number): Promise<Buffer[]> {
  const files: string[] = [];
  for (const sub of ['ham', 'spam']) {
    const names = await fsp.readdir(path.join(dir, sub)).catch(() => [] as string[]);
    for (const n of names.sort()) files.push(path.join(dir, sub, n));
  }
  let chosen = files;
  if (limit !== undefined && limit < files.length) {
    chosen = [];
    const step = files.length / limit;
    for (let i = 0; i < limit; i++) chosen.push(files[Math.floor(i * step)]!);
  }
  const out: Buffer[] = [];
  for (const f of chosen) {
    let b = await fsp.readFile(f);
    if (b.subarray(0, 5).toString('latin1') === 'From ') {
      const nl = b.indexOf(0x0a);
      b = nl < 0 ? Buffer.alloc(0) : b.subarray(nl + 1);
    }
    out.push(Buffer.from(b.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1'));
  }
  return out;
}
