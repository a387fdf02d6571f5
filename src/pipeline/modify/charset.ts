// Character sets of the text parts we change. The original bytes of a part are never
// decoded and re-encoded when that can be avoided: for charsets where ASCII bytes mean
// ASCII (UTF-8, ISO-8859-x, windows-125x, Shift_JIS, GBK, Big5, ISO-2022-JP in its
// ASCII state), the inserted text is encoded in the part's own charset and spliced in
// as bytes, so whatever the sender wrote stays exactly as it was.
import iconv from 'iconv-lite';

/** Charsets where an ASCII byte may be part of another character (or bytes are not ASCII at all). */
const NOT_ASCII_COMPATIBLE = /^(utf-?16|utf-?32|ucs-?2|ucs-?4|utf-?7|unicode-1-1-utf-7|csunicode)/;

/** Lower case, no quotes or spaces; null when the part declares none. */
export function normaliseCharset(charset: string | false | undefined | null): string | null {
  if (!charset) return null;
  const c = charset.trim().replace(/^["']|["']$/g, '').trim().toLowerCase();
  return c || null;
}

export function isAsciiCompatible(charset: string): boolean {
  return !NOT_ASCII_COMPATIBLE.test(charset);
}

export function isKnownCharset(charset: string): boolean {
  return iconv.encodingExists(charset);
}

export function decodeText(bytes: Buffer, charset: string): string {
  return iconv.decode(bytes, charset);
}

export function encodeText(text: string, charset: string, addBOM = false): Buffer {
  if ((charset === 'utf-8' || charset === 'utf8') && !addBOM) return Buffer.from(text, 'utf8');
  return iconv.encode(text, charset, { addBOM });
}

/** Whether the bytes start with a UTF-8, UTF-16 or UTF-32 byte order mark (kept when we re-encode). */
export function hasBom(bytes: Buffer): boolean {
  return (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff) || (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) || (bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0xfe && bytes[3] === 0xff);
}

/** Whether `text` survives a round trip through `charset` (no "?" substitutes). */
export function representable(text: string, charset: string): boolean {
  if (!isKnownCharset(charset)) return /^[\x00-\x7f]*$/.test(text);
  return iconv.decode(encodeText(text, charset), charset) === text;
}

export function isAscii(bytes: Buffer): boolean {
  return !/[\x80-\xff]/.test(bytes.toString('latin1'));
}

export function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * HTML text for a part in `charset`: every character the charset cannot carry (or all
 * non-ASCII ones when the charset is unknown to us) becomes a numeric character
 * reference, which means the same character in any charset.
 */
export function htmlForCharset(html: string, charset: string | null): string {
  const known = charset !== null && isKnownCharset(charset);
  if (/^[\x00-\x7f]*$/.test(html) || (known && representable(html, charset))) return html;
  let out = '';
  for (const ch of html) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80 || (known && representable(ch, charset))) out += ch;
    else out += `&#${cp};`;
  }
  return out;
}
