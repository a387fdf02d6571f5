// Which encryption policy applies to a recipient (the recipient's own, else its
// domain's, else the default), and the subject keyword that forces encryption.
import type { Settings } from '../../config/settings.ts';
import { decodeEncodedWords } from '../headers.ts';
import { headerFields } from './mime-entity.ts';

/**
 * never: plain. sign: signed, not encrypted. opportunistic: encrypted when a valid key
 * is known (S/MIME, else PGP), else plain. always: S/MIME, else PGP, else PDF, else held.
 */
export const ENCRYPTION_POLICIES = ['never', 'sign', 'opportunistic', 'always'] as const;
export type EncryptionPolicy = (typeof ENCRYPTION_POLICIES)[number];

export interface ResolvedPolicy {
  policy: EncryptionPolicy;
  /** "recipient", "domain example.com", "default". */
  from: string;
}

export function policyFor(settings: Pick<Settings, 'encryption.policy' | 'encryption.domainPolicies' | 'encryption.recipientPolicies'>, recipient: string): ResolvedPolicy {
  const a = recipient.toLowerCase();
  const own = settings['encryption.recipientPolicies'][a];
  if (own) return { policy: own, from: 'recipient' };
  // The domain, then its parents: a policy for example.com covers mail.example.com.
  let d = a.slice(a.lastIndexOf('@') + 1);
  while (d) {
    const p = settings['encryption.domainPolicies'][d];
    if (p) return { policy: p, from: `domain ${d}` };
    const dot = d.indexOf('.');
    d = dot < 0 ? '' : d.slice(dot + 1);
  }
  return { policy: settings['encryption.policy'], from: 'default' };
}

export interface KeywordMatch {
  /** The message with the keyword removed from its Subject. */
  message: Buffer;
}

/**
 * Finds the keyword in the Subject (case-insensitive, raw or inside RFC 2047 encoded
 * words); returns the message without it, or null when the subject does not carry it.
 */
export function takeSubjectKeyword(message: Buffer, keyword: string | null): KeywordMatch | null {
  if (!keyword) return null;
  const sep = message.indexOf('\r\n\r\n');
  const headEnd = sep < 0 ? message.length : sep + 2;
  const fields = headerFields(message.subarray(0, headEnd).toString('latin1'));
  const i = fields.findIndex((f) => /^subject\s*:/i.test(f));
  if (i < 0) return null;
  const raw = fields[i]!.slice(fields[i]!.indexOf(':') + 1).replace(/\r\n$/, '');
  const kw = keyword.toLowerCase();
  let value: string;
  if (raw.toLowerCase().includes(kw)) value = tidy(removeAll(raw, kw));
  else {
    const decoded = decodeEncodedWords(Buffer.from(raw.replace(/\r\n[ \t]/g, ' '), 'latin1').toString('utf8'));
    if (!decoded.toLowerCase().includes(kw)) return null;
    const rest = tidy(removeAll(decoded, kw)).trim();
    value = ' ' + (/^[\x20-\x7e]*$/.test(rest) ? rest : `=?UTF-8?B?${Buffer.from(rest, 'utf8').toString('base64')}?=`);
  }
  fields[i] = `Subject:${value}\r\n`;
  return { message: Buffer.concat([Buffer.from(fields.join(''), 'latin1'), message.subarray(headEnd)]) };
}

function removeAll(text: string, kwLower: string): string {
  let out = text;
  for (let at = out.toLowerCase().indexOf(kwLower); at >= 0; at = out.toLowerCase().indexOf(kwLower)) out = out.slice(0, at) + out.slice(at + kwLower.length);
  return out;
}

/** Collapses the double space the keyword leaves behind; keeps one leading space. */
function tidy(value: string): string {
  const t = value.replace(/[ \t]{2,}/g, ' ').replace(/^[ \t]+|[ \t]+$/g, '');
  return ' ' + t;
}
