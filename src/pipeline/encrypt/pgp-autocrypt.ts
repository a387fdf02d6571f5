// Autocrypt (Level 1, https://autocrypt.org/level1.html): inbound mail may carry its
// sender's OpenPGP key in an Autocrypt header. The gateway harvests it so the next
// message to that address can be encrypted. The rules of Level 1 5.1 apply: the
// header's addr must be the From address, a header with an unknown critical attribute
// is ignored, and more than one valid header for the address means none counts.
import { getHeader, headerBlock } from '../headers.ts';
import { parseFields } from './mime-parts.ts';
import { pgpKeyInfo, readPgpKeys, type PgpKey, type PgpKeyInfo } from './pgp-keys.ts';

export interface AutocryptHeader {
  addr: string;
  preferEncrypt: 'mutual' | 'nopreference';
  keydata: Uint8Array;
}

/** The single From address of a message, lower case (null when absent or several). */
export function fromAddress(msg: Buffer): string | null {
  const from = getHeader(headerBlock(msg), 'From');
  if (!from) return null;
  const angle = [...from.matchAll(/<([^<>\s]+@[^<>\s]+)>/g)];
  if (angle.length > 1) return null;
  if (angle.length === 1) return angle[0]![1]!.toLowerCase();
  const bare = from.trim();
  return /^[^\s@<>,]+@[^\s@<>,]+$/.test(bare) ? bare.toLowerCase() : null;
}

/** Parses one Autocrypt header value; null when it is not valid Level 1. */
export function parseAutocryptHeader(value: string): AutocryptHeader | null {
  const attrs = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    if (attrs.has(name)) return null;
    attrs.set(name, part.slice(eq + 1).trim());
  }
  const addr = attrs.get('addr');
  const keydata = attrs.get('keydata');
  if (!addr || !keydata) return null;
  for (const name of attrs.keys()) {
    // Unknown attributes not starting with "_" are critical: the header does not count.
    if (!['addr', 'keydata', 'prefer-encrypt'].includes(name) && !name.startsWith('_')) return null;
  }
  const pe = attrs.get('prefer-encrypt');
  const bytes = Buffer.from(keydata.replace(/\s+/g, ''), 'base64');
  if (!bytes.length) return null;
  return { addr: addr.toLowerCase(), preferEncrypt: pe === 'mutual' ? 'mutual' : 'nopreference', keydata: new Uint8Array(bytes) };
}

export interface HarvestedKey {
  address: string;
  key: PgpKey;
  info: PgpKeyInfo;
  preferEncrypt: AutocryptHeader['preferEncrypt'];
}

/**
 * The key a message's Autocrypt header offers for its From address, or why there is
 * none. The key must be a public key that can encrypt now.
 */
export async function harvestAutocrypt(msg: Buffer, now = new Date()): Promise<{ harvested: HarvestedKey } | { none: string }> {
  const from = fromAddress(msg);
  if (!from) return { none: 'no single From address' };
  const headers = parseFields(headerBlock(msg)).filter((f) => /^autocrypt$/i.test(f.name));
  if (!headers.length) return { none: 'no Autocrypt header' };
  const valid = headers.map((h) => parseAutocryptHeader(h.value)).filter((h): h is AutocryptHeader => !!h && h.addr === from);
  if (!valid.length) return { none: 'no valid Autocrypt header for the From address' };
  if (valid.length > 1) return { none: 'several Autocrypt headers for the From address' };
  const header = valid[0]!;
  let key: PgpKey;
  try {
    const keys = await readPgpKeys(header.keydata);
    if (keys.length !== 1) return { none: 'keydata holds more than one key' };
    key = keys[0]!;
  } catch (err) {
    return { none: `unreadable keydata: ${(err as Error).message}` };
  }
  if (key.isPrivate()) return { none: 'keydata is a private key' };
  const info = await pgpKeyInfo(key, now);
  if (!info.canEncrypt) return { none: 'the key cannot encrypt (expired, revoked or no encryption subkey)' };
  return { harvested: { address: from, key, info, preferEncrypt: header.preferEncrypt } };
}

/** An Autocrypt header offering `key` for `address` (for internal senders' outbound mail). */
export function autocryptHeaderValue(address: string, key: PgpKey): string {
  const b64 = Buffer.from(key.toPublic().write()).toString('base64');
  // folded at 76 columns, as RFC 5322 asks; the base64 is one token split by folds
  return `addr=${address}; keydata=\r\n ${b64.match(/.{1,76}/g)!.join('\r\n ')}`;
}
