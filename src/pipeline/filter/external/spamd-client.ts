// A client for SpamAssassin's daemon, spamd, speaking the SPAMC/1.5 protocol as spamc
// does: one request per connection, "SYMBOLS SPAMC/1.5", a Content-length header, a
// blank line and the message; spamd answers "SPAMD/1.1 0 EX_OK", a
// "Spam: True ; 7.3 / 5.0" header (verdict, score, threshold) and, for SYMBOLS, the
// names of the rules that hit, comma-separated, then closes. SYMBOLS rather than REPORT:
// REPORT's per-rule points depend on the report template of spamd's configuration,
// the rule names and the total do not. One deadline covers connect, send and reply.
import { SocketExchangeError, socketExchange } from '../../../net/socket-exchange.ts';
import { formatSpamdAddress, parseSpamdAddress, type SpamdAddress } from './address.ts';

export interface SpamdOptions {
  address: SpamdAddress | string;
  timeoutMs: number;
  /** Sent as spamd's User header (whose per-user preferences apply, when spamd allows them). */
  user?: string;
}

export interface SpamdVerdict {
  isSpam: boolean;
  score: number;
  /** spamd's own required_score. */
  threshold: number;
  /** Names of the rules that hit, as spamd listed them. */
  rules: string[];
}

/** spamd could not give a verdict: unreachable, timed out, or it answered with an error. */
export class SpamdError extends Error {
  override name = 'SpamdError';
}

/** Upper bound on spamd's reply: a SYMBOLS or PING answer is small. */
const MAX_REPLY = 1024 * 1024;

interface SpamdReply {
  code: number;
  status: string;
  headers: Map<string, string>;
  body: string;
}

/** Sends one request and reads spamd's whole reply (spamd closes the connection after it). */
async function exchange(o: SpamdOptions, request: Buffer): Promise<SpamdReply> {
  const address = typeof o.address === 'string' ? parseSpamdAddress(o.address) : o.address;
  const where = formatSpamdAddress(address);
  let raw: Buffer;
  try {
    raw = await socketExchange({ address, timeoutMs: o.timeoutMs, send: (s) => s.end(request), maxBytes: MAX_REPLY });
  } catch (err) {
    if (!(err instanceof SocketExchangeError)) throw err;
    if (err.reason === 'timeout') throw new SpamdError(`spamd at ${where} did not answer within ${o.timeoutMs} ms`);
    if (err.reason === 'too-large') throw new SpamdError(`spamd at ${where} sent more than ${MAX_REPLY} bytes`);
    throw new SpamdError(`spamd at ${where}: ${err.code}`);
  }
  return parseReply(raw, where);
}

/** "SPAMD/1.1 0 EX_OK" + headers + blank line + body. A nonzero code is spamd's error (sysexits). */
export function parseReply(raw: Buffer, where = 'spamd'): SpamdReply {
  const text = raw.toString('utf8');
  const headEnd = text.indexOf('\r\n\r\n');
  const head = headEnd >= 0 ? text.slice(0, headEnd) : text.trimEnd();
  const body = headEnd >= 0 ? text.slice(headEnd + 4) : '';
  const [statusLine = '', ...lines] = head.split('\r\n');
  const m = /^SPAMD\/(\d+\.\d+)\s+(\d+)\s*(.*)$/.exec(statusLine);
  if (!m) throw new SpamdError(statusLine ? `spamd at ${where} answered "${statusLine.slice(0, 100)}", not SPAMD/1.x` : `spamd at ${where} closed the connection without an answer`);
  const code = Number(m[2]);
  if (code !== 0) throw new SpamdError(`spamd at ${where} refused the request: ${m[3] || `code ${code}`}`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return { code, status: m[3] ?? '', headers, body };
}

/** "True ; 7.3 / 5.0" (also "Yes"/"No", as spamd 2.x wrote it). */
export function parseSpamHeader(value: string): Pick<SpamdVerdict, 'isSpam' | 'score' | 'threshold'> {
  const m = /^\s*(True|False|Yes|No)\s*;\s*(-?\d+(?:\.\d+)?)\s*\/\s*(-?\d+(?:\.\d+)?)\s*$/i.exec(value);
  if (!m) throw new SpamdError(`spamd's Spam header "${value}" is not "True ; score / threshold"`);
  return { isSpam: /^(true|yes)$/i.test(m[1]!), score: Number(m[2]), threshold: Number(m[3]) };
}

/** Asks spamd for the verdict and the rules that hit (SYMBOLS). */
export async function spamdScan(o: SpamdOptions, message: Buffer): Promise<SpamdVerdict> {
  const head = `SYMBOLS SPAMC/1.5\r\nContent-length: ${message.length}\r\n${o.user ? `User: ${o.user}\r\n` : ''}\r\n`;
  const reply = await exchange(o, Buffer.concat([Buffer.from(head, 'latin1'), message]));
  const spam = reply.headers.get('spam');
  if (spam === undefined) throw new SpamdError('spamd answered without a Spam header');
  const rules = reply.body
    .split(',')
    .map((r) => r.trim())
    .filter((r) => /^[A-Za-z0-9_.-]+$/.test(r));
  return { ...parseSpamHeader(spam), rules };
}

/** PING: "SPAMD/1.5 0 PONG". Resolves with spamd's status text. */
export async function spamdPing(o: SpamdOptions): Promise<string> {
  const reply = await exchange(o, Buffer.from('PING SPAMC/1.5\r\n\r\n', 'latin1'));
  return reply.status;
}
