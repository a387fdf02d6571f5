// Small SMTP clients for tests: one through nodemailer's SMTP connection (a real client
// we did not write) that reports the server's reply, and a raw socket conversation for
// protocol abuse (smuggling, bare LF) that no well-behaved client would send.
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';

export interface SendOutcome {
  ok: boolean;
  /** The server's final reply line (250 ... or the error). */
  response: string;
  code: number;
}

export interface SendOptions {
  /** Local address to connect from: 127.0.0.2 is in the relay networks of several tests. */
  localAddress?: string;
  /** The client's EHLO name. */
  helo?: string;
}

export function sendMessage(port: number, envelope: { from: string; to: string[] }, raw: string | Buffer, o: SendOptions = {}): Promise<SendOutcome> {
  return new Promise((resolve) => {
    const conn = new SMTPConnection({
      host: '127.0.0.1',
      port,
      localAddress: o.localAddress,
      name: o.helo ?? 'client.test',
      ignoreTLS: true,
      connectionTimeout: 10_000,
      socketTimeout: 60_000,
    } as SMTPConnection.Options);
    let done = false;
    const finish = (o: SendOutcome) => {
      if (done) return;
      done = true;
      try {
        conn.quit();
      } catch {
        /* already closed */
      }
      resolve(o);
    };
    conn.on('error', (err: Error & { response?: string; responseCode?: number }) =>
      finish({ ok: false, response: err.response ?? err.message, code: err.responseCode ?? 0 }),
    );
    // A server killed mid-transaction can make nodemailer close without an error; the
    // caller must still get an answer (this hung the kill -9 test now and then).
    conn.on('end', () => finish({ ok: false, response: 'connection closed before the transaction ended', code: 0 }));
    conn.connect(() => {
      conn.send(envelope, Buffer.isBuffer(raw) ? raw : Buffer.from(raw), (err, info) => {
        if (err) {
          const e = err as Error & { response?: string; responseCode?: number };
          return finish({ ok: false, response: e.response ?? e.message, code: e.responseCode ?? 0 });
        }
        finish({ ok: true, response: info.response, code: Number(info.response.slice(0, 3)) });
      });
    });
  });
}

/** The queue ID in a "250 ... queued as <ID>" reply. */
export function queueId(r: SendOutcome): string {
  const m = /queued as ([0-9A-Z]+)/.exec(r.response);
  assert.ok(m, r.response);
  return m[1]!;
}

/**
 * A scripted raw conversation: sends each chunk after the previous reply was read
 * (or all at once when pipelined), returns everything the server said.
 */
export function rawSession(port: number, chunks: Array<string | Buffer>, waitMs = 400): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let transcript = '';
    let i = 0;
    let timer: NodeJS.Timeout | null = null;
    const next = () => {
      if (i < chunks.length) {
        s.write(chunks[i++]!);
        timer = setTimeout(next, waitMs);
      } else {
        s.end();
      }
    };
    s.on('data', (d) => (transcript += d.toString()));
    s.once('data', () => next());
    s.on('error', reject);
    s.on('close', () => {
      if (timer) clearTimeout(timer);
      resolve(transcript);
    });
  });
}

export function simpleMessage(opts: { from: string; to: string; subject: string; body?: string; messageId?: string }): string {
  return [
    `From: <${opts.from}>`,
    `To: <${opts.to}>`,
    `Subject: ${opts.subject}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${opts.messageId ?? `<${Math.random().toString(36).slice(2)}@client.test>`}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    opts.body ?? 'Hello from the test.',
    '',
  ].join('\r\n');
}
