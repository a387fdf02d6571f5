// `hermes selftest`: proves, after an install or a change, that the running gateway takes
// a message, filters it and delivers it. It starts a throwaway SMTP sink on loopback,
// adds a relay domain routed to it for the length of the test, sends one message to the
// running MX like any client would, waits for it at the sink, and reports the stages the
// trace shows it passed. The domain is removed again whatever happens.
import { randomBytes } from 'node:crypto';
import { SMTPServer } from 'smtp-server';
import nodemailer from 'nodemailer';
import type { AddressInfo } from 'node:net';
import type { LoadedConfig } from '../../config/bootstrap.ts';
import type { Db } from '../../db/database.ts';
import type { Actor } from '../../services/actor.ts';
import { removeDomain, saveDomain } from '../../services/domains-service.ts';
import { getTrace } from '../../services/trace-service.ts';

export interface SelftestStep {
  ok: boolean;
  what: string;
}

export interface SelftestReport {
  ok: boolean;
  steps: SelftestStep[];
  queueId: string | null;
}

interface Sink {
  port: number;
  received: Promise<Buffer>;
  close(): Promise<void>;
}

/** A one-message SMTP sink on 127.0.0.1 (smtp-server), closed by the caller. */
async function startSink(token: string): Promise<Sink> {
  let deliver!: (b: Buffer) => void;
  const received = new Promise<Buffer>((r) => (deliver = r));
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const msg = Buffer.concat(chunks);
        if (msg.includes(token)) deliver(msg);
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return { port, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(what)), ms).unref())]);

export async function runSelftest(o: { config: LoadedConfig; db: Db; actor: Actor; timeoutMs?: number; progress?: (step: SelftestStep) => void }): Promise<SelftestReport> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const steps: SelftestStep[] = [];
  const step = (ok: boolean, what: string) => {
    const s = { ok, what };
    steps.push(s);
    o.progress?.(s);
    return ok;
  };
  const token = randomBytes(8).toString('hex');
  const domain = `selftest-${token}.invalid`;
  const mx = { host: o.config.smtp.mx.host === '0.0.0.0' || o.config.smtp.mx.host === '::' ? '127.0.0.1' : o.config.smtp.mx.host, port: o.config.smtp.mx.port };
  const sink = await startSink(token);
  let queueId: string | null = null;
  let added = false;
  try {
    await saveDomain(o.db, o.actor, { domain, nextHop: `127.0.0.1:${sink.port}` }, 'create');
    added = true;
    step(true, `test domain ${domain} routed to a sink on 127.0.0.1:${sink.port}`);
    const transport = nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false, tls: { rejectUnauthorized: false }, connectionTimeout: 10_000, name: 'selftest.invalid' });
    // The gateway picks up the new domain at its next configuration check; a 550 for
    // it means "not yet", so the send is tried again for a little while.
    const deadline = Date.now() + Math.min(timeoutMs, 20_000);
    let reply = '';
    for (;;) {
      try {
        const info = await transport.sendMail({
          envelope: { from: `selftest@${o.config.hostname}`, to: [`postmaster@${domain}`] },
          raw: [`From: Hermes selftest <selftest@${o.config.hostname}>`, `To: <postmaster@${domain}>`, `Subject: Hermes selftest ${token}`, `Date: ${new Date().toUTCString()}`, `Message-ID: <${token}@${o.config.hostname}>`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', `This message was sent by "hermes selftest" (${token}).`, ''].join('\r\n'),
        });
        reply = info.response;
        break;
      } catch (err) {
        const e = err as { responseCode?: number; code?: string; message: string };
        if (e.code === 'ECONNREFUSED' || e.code === 'ETIMEDOUT' || e.code === 'ESOCKET') {
          step(false, `the MX at ${mx.host}:${mx.port} does not answer (${e.message}): is the gateway running? (hermes start)`);
          return { ok: false, steps, queueId };
        }
        if (e.responseCode && e.responseCode >= 500 && e.responseCode < 600 && Date.now() < deadline && /recipient|relay|domain/i.test(e.message)) {
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        step(false, `the MX refused the test message: ${e.message}`);
        return { ok: false, steps, queueId };
      }
    }
    queueId = /queued as ([0-9A-Z]+)/i.exec(reply)?.[1] ?? null;
    step(true, `accepted by the MX at ${mx.host}:${mx.port}: ${reply}`);
    let delivered: Buffer;
    try {
      delivered = await within(sink.received, timeoutMs, 'timeout');
    } catch {
      step(false, `not delivered to the sink within ${Math.round(timeoutMs / 1000)} s${queueId ? `: see "hermes trace ${queueId}"` : ''}`);
      return { ok: false, steps, queueId };
    }
    step(true, `delivered to the sink (${delivered.length} bytes)`);
    const head = delivered.subarray(0, Math.max(0, delivered.indexOf('\r\n\r\n'))).toString('latin1');
    for (const name of ['Received', 'Authentication-Results', 'X-Spam-Status']) {
      const value = new RegExp(`^${name}:([^\\r\\n]*(?:\\r\\n[ \\t][^\\r\\n]*)*)`, 'im').exec(head)?.[1];
      if (value) step(true, `header ${name}:${value.replace(/\s+/g, ' ').slice(0, 140)}`);
    }
    if (queueId) {
      // The delivery is recorded by the index writer a moment after the sink has the
      // message: wait for it (briefly) so the report shows the whole path.
      let t = await getTrace(o.db, o.actor, queueId).catch(() => null);
      for (let i = 0; i < 40 && t && !t.events.some((e) => e.type === 'delivered'); i++) {
        await new Promise((r) => setTimeout(r, 250));
        t = await getTrace(o.db, o.actor, queueId).catch(() => null);
      }
      if (t) step(true, `trace ${queueId}: ${[...new Set(t.events.map((e) => e.type))].join(' > ')}`);
    }
    return { ok: steps.every((s) => s.ok), steps, queueId };
  } finally {
    if (added) await removeDomain(o.db, o.actor, domain).catch(() => {});
    await sink.close();
  }
}
