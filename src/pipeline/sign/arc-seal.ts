// ARC sealing (RFC 8617) of the final bytes, with mailauth's sealer.
//
// The chain validation status (cv=) is the one found ON ARRIVAL, by verifyMessage()
// on the bytes as received, and is passed in. It is deliberately not recomputed here:
// our own changes (banner, disclaimer) make the upstream ARC-Message-Signature fail
// on the final bytes, and a sealer that validates at this point writes cv=fail for a
// chain that arrived intact (Hermes issue #229). RFC 8617 5.2 has verifiers check
// only the newest AMS, which is ours and covers the final bytes.
// First: mailauth's header parser is replaced before mailauth loads (see that file).
import '../verify/mailauth-header-parser.ts';
import { createPrivateKey } from 'node:crypto';
import arcMod from 'mailauth/lib/arc/index.js';
import type { ArcResultValue } from '../verify/authenticate.ts';
import { authservIdOf } from '../verify/authenticate.ts';
import { DEFAULT_SIGNED_HEADERS, lineEndingOf } from './dkim-sign.ts';

const { sealMessage } = arcMod;

export interface ArcSealKey {
  domain: string;
  selector: string;
  privateKeyPem: string;
  /** RFC 8617 only defines rsa-sha256. */
  algorithm?: 'rsa-sha256';
}

/** What verifyMessage() found on arrival (AuthVerdict.arc fits). */
export interface ArcArrival {
  result: ArcResultValue;
  /** Highest instance present on arrival; 0 for none. */
  instance: number;
  shouldSeal: boolean;
}

export interface ArcSealInput {
  key: ArcSealKey;
  arrival: ArcArrival;
  /** Our Authentication-Results value ("authserv-id; dkim=...; spf=..."), as verifyMessage() returned it. */
  authResults: string;
  signTime?: Date;
  /** Header fields the ARC-Message-Signature covers (default: DKIM-Signature plus the DKIM list). */
  headers?: readonly string[];
}

export interface ArcSealResult {
  message: Buffer;
  sealed: boolean;
  instance?: number;
  cv?: 'none' | 'pass' | 'fail';
  /** Why no set was added. */
  reason?: string;
}

export const DEFAULT_AMS_HEADERS: readonly string[] = ['DKIM-Signature', ...DEFAULT_SIGNED_HEADERS];

/** The cv= our seal carries, from the arrival status; null when we must not seal. */
export function sealCv(arrival: ArcArrival): { cv: 'none' | 'pass' | 'fail' } | { reason: string } {
  if (!arrival.shouldSeal) {
    return {
      reason:
        arrival.result === 'temperror'
          ? 'chain validation failed temporarily on arrival; not sealing over an unknown state'
          : 'chain ends in cv=fail or is unusable; RFC 8617 5.1 forbids adding a set',
    };
  }
  if (arrival.instance >= 50) return { reason: 'chain already has 50 sets (RFC 8617 4.2.1)' };
  switch (arrival.result) {
    case 'none':
      return arrival.instance === 0 ? { cv: 'none' } : { reason: 'inconsistent arrival status' };
    case 'pass':
      return { cv: 'pass' };
    case 'fail':
      return { cv: 'fail' };
    default:
      return { reason: `arrival status ${arrival.result}` };
  }
}

/** Adds ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results (i = arrival instance + 1) on top. */
export async function arcSeal(message: Buffer, input: ArcSealInput): Promise<ArcSealResult> {
  const decision = sealCv(input.arrival);
  if ('reason' in decision) return { message, sealed: false, reason: decision.reason };

  let keyType: string | undefined;
  try {
    keyType = createPrivateKey(input.key.privateKeyPem).asymmetricKeyType;
  } catch (err) {
    throw new Error(`ARC sealing key ${input.key.selector}._domainkey.${input.key.domain} is unusable: ${(err as Error).message}`);
  }
  if (keyType !== 'rsa') throw new Error(`ARC sealing needs an RSA key (RFC 8617 allows only rsa-sha256), got ${keyType}`);

  const instance = input.arrival.instance + 1;
  // mailauth signs header lines as "binary" strings (one char per byte, see its
  // formatRelaxedLine) but writes its output as UTF-8: a non-ASCII
  // ARC-Authentication-Results (an SMTPUTF8 address) would be signed over other bytes
  // than those sent. So it gets the UTF-8 bytes as a binary string, and its output is
  // read back the same way (UTF-8 decode gives the binary string, latin1 the bytes).
  const authResults = Buffer.from(input.authResults.trim().replace(/;\s*$/, ''), 'utf8').toString('latin1');
  const headers = await sealMessage(message, {
    signingDomain: input.key.domain,
    selector: input.key.selector,
    privateKey: input.key.privateKeyPem,
    algorithm: 'rsa-sha256',
    authResults,
    cv: decision.cv,
    i: instance,
    signTime: input.signTime ?? new Date(),
    headerList: (input.headers ?? DEFAULT_AMS_HEADERS).join(':'),
  });
  const text = headers.toString('utf8');
  if (!/^ARC-Seal:/i.test(text) || !/\nARC-Message-Signature:/i.test(text) || !/\nARC-Authentication-Results:/i.test(text) || /undefined/.test(text)) {
    throw new Error('ARC sealing produced an incomplete set');
  }
  const eol = lineEndingOf(message);
  const block = Buffer.from(text.replace(/\r?\n/g, eol), 'latin1');
  return { message: Buffer.concat([block, message]), sealed: true, instance, cv: decision.cv };
}

/** Splits at top-level ';' (outside comments and quoted strings). */
function splitResults(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) {
      cur += c + value[++i];
      continue;
    }
    if (quoted) {
      if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === ';' && depth === 0) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out.map(s => s.replace(/\s+/g, ' ').trim()).filter(Boolean);
}

/**
 * Consolidates every Authentication-Results field that carries this authserv-id, in
 * message order, into one value ("authserv-id; res1;\r\n res2; ...") for an ARC
 * seal; null if there is none. (Our pipeline writes one A-R itself, so this is for
 * messages where several of ours exist, and for the arc_test_suite convention.)
 */
export function collectAuthResults(raw: Buffer, authservId: string): string | null {
  const text = raw.toString('latin1');
  const m = /\r?\n\r?\n/.exec(text);
  const head = m ? text.slice(0, m.index + 1) : text;
  const fields = head.split(/\r?\n(?![ \t])/);
  const ours = authservId.trim().toLowerCase();
  const results: string[] = [];
  let found = false;
  for (const f of fields) {
    const colon = f.indexOf(':');
    if (colon <= 0 || f.slice(0, colon).trim().toLowerCase() !== 'authentication-results') continue;
    const value = f.slice(colon + 1);
    const id = authservIdOf(value);
    if (!id || id.toLowerCase() !== ours) continue;
    found = true;
    const parts = splitResults(value);
    // First part is "authserv-id [version]" (possibly with comments).
    for (const r of parts.slice(1)) if (r.toLowerCase() !== 'none') results.push(r);
  }
  if (!found) return null;
  return results.length ? `${authservId}; ${results.join(';\r\n ')}` : `${authservId}; none`;
}
