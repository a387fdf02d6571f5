// A client for Rspamd's normal worker: POST /checkv2 with the message as the body and
// the SMTP envelope in request headers (IP, Helo, From, one Rcpt per recipient, as
// Rspamd's protocol documents), and a JSON reply with the score, the required score,
// the action and the symbols that hit, each with its score. node:http, one deadline
// for the whole exchange.
import { request } from 'node:http';
import { parseRspamdUrl } from './address.ts';

export interface RspamdOptions {
  /** "http://host:port" of Rspamd's normal worker. */
  url: string;
  timeoutMs: number;
}

export interface RspamdEnvelope {
  ip?: string;
  helo?: string;
  mailFrom?: string;
  rcptTo?: string[];
  queueId?: string;
}

export interface RspamdSymbol {
  name: string;
  score: number;
  description?: string;
  options?: string[];
}

export interface RspamdVerdict {
  score: number;
  requiredScore: number;
  action: string;
  /** Rspamd skipped the message (a settings rule said so): no symbols, score 0. */
  skipped: boolean;
  symbols: RspamdSymbol[];
}

export class RspamdError extends Error {
  override name = 'RspamdError';
}

const MAX_REPLY = 4 * 1024 * 1024;

/** Sends one request; resolves with the HTTP status and body. */
function call(o: RspamdOptions, method: 'GET' | 'POST', path: string, headers: Record<string, string | string[]>, body?: Buffer): Promise<{ status: number; body: string }> {
  const base = parseRspamdUrl(o.url);
  const where = base.host;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, res?: { status: number; body: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    const req = request(
      { host: base.hostname.replace(/^\[|\]$/g, ''), port: base.port || 80, method, path, headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > MAX_REPLY) return finish(new RspamdError(`rspamd at ${where} sent more than ${MAX_REPLY} bytes`));
          chunks.push(d);
        });
        res.on('end', () => finish(null, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => finish(new RspamdError(`rspamd at ${where}: ${err.message}`)));
      },
    );
    const timer = setTimeout(() => finish(new RspamdError(`rspamd at ${where} did not answer within ${o.timeoutMs} ms`)), o.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish(new RspamdError(`rspamd at ${where}: ${err.code ?? err.message}`)));
    req.end(body);
  });
}

/** The envelope as Rspamd's request headers; values are single lines. */
export function envelopeHeaders(e: RspamdEnvelope): Record<string, string | string[]> {
  // One line each; UTF-8 addresses (SMTPUTF8) go as their UTF-8 bytes, since node:http
  // writes header values byte for byte as latin1.
  const clean = (s: string) => Buffer.from(s.replace(/[\r\n]+/g, ' ').trim(), 'utf8').toString('latin1');
  const h: Record<string, string | string[]> = {};
  if (e.ip) h['IP'] = clean(e.ip);
  if (e.helo) h['Helo'] = clean(e.helo);
  // The null sender (bounces) is left out: Rspamd then takes the sender from the message.
  if (e.mailFrom) h['From'] = clean(e.mailFrom);
  if (e.rcptTo?.length) h['Rcpt'] = e.rcptTo.map(clean);
  if (e.queueId) h['Queue-Id'] = clean(e.queueId);
  return h;
}

/** Rspamd's /checkv2 reply, checked field by field (a proxy or another service could answer). */
export function parseCheckReply(text: string, where = 'rspamd'): RspamdVerdict {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new RspamdError(`rspamd at ${where} did not answer with JSON: ${text.slice(0, 100)}`);
  }
  if (typeof j !== 'object' || j === null) throw new RspamdError(`rspamd at ${where} answered ${text.slice(0, 100)}`);
  const r = j as Record<string, unknown>;
  if (typeof r['error'] === 'string') throw new RspamdError(`rspamd at ${where}: ${r['error']}`);
  if (typeof r['score'] !== 'number') throw new RspamdError(`rspamd at ${where} answered without a score`);
  const symbols: RspamdSymbol[] = [];
  const raw = r['symbols'];
  if (raw && typeof raw === 'object') {
    for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
      if (!v || typeof v !== 'object') continue;
      const s = v as Record<string, unknown>;
      const sym: RspamdSymbol = { name: typeof s['name'] === 'string' ? s['name'] : key, score: typeof s['score'] === 'number' ? s['score'] : 0 };
      if (typeof s['description'] === 'string') sym.description = s['description'];
      if (Array.isArray(s['options'])) sym.options = s['options'].filter((x): x is string => typeof x === 'string');
      symbols.push(sym);
    }
  }
  return {
    score: r['score'],
    requiredScore: typeof r['required_score'] === 'number' ? r['required_score'] : 0,
    action: typeof r['action'] === 'string' ? r['action'] : 'unknown',
    skipped: r['is_skipped'] === true,
    symbols,
  };
}

/** Scans one message. */
export async function rspamdScan(o: RspamdOptions, message: Buffer, envelope: RspamdEnvelope = {}): Promise<RspamdVerdict> {
  const where = parseRspamdUrl(o.url).host;
  const res = await call(o, 'POST', '/checkv2', envelopeHeaders(envelope), message);
  if (res.status !== 200) {
    let why = res.body.slice(0, 200);
    try {
      const e = (JSON.parse(res.body) as { error?: unknown }).error;
      if (typeof e === 'string') why = e;
    } catch {
      /* not JSON: keep the text */
    }
    throw new RspamdError(`rspamd at ${where} answered HTTP ${res.status}: ${why}`);
  }
  return parseCheckReply(res.body, where);
}

/** GET /ping: Rspamd answers "pong". */
export async function rspamdPing(o: RspamdOptions): Promise<string> {
  const res = await call(o, 'GET', '/ping', {});
  if (res.status !== 200) throw new RspamdError(`rspamd at ${parseRspamdUrl(o.url).host} answered HTTP ${res.status} to /ping`);
  return res.body.trim();
}
