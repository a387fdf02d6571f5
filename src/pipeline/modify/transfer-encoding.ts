// Content-Transfer-Encoding of a changed part: decode what was sent, encode the changed
// text the same way. A 7bit part that now carries 8-bit text (or overlong lines)
// becomes quoted-printable, so the message stays 7-bit clean for any next hop.
import libqp from 'libqp';

export type TransferEncoding = 'base64' | 'quoted-printable' | '7bit' | '8bit' | 'binary';

/** The part's encoding as declared (absent or unknown values read as 7bit, as RFC 2045 6.1 says). */
export function transferEncodingOf(declared: string | false | undefined): TransferEncoding {
  const e = (declared || '').trim().toLowerCase();
  return e === 'base64' || e === 'quoted-printable' || e === '8bit' || e === 'binary' ? e : '7bit';
}

export function decodeTransfer(raw: Buffer, enc: TransferEncoding): Buffer {
  switch (enc) {
    case 'base64':
      return Buffer.from(raw.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return libqp.decode(raw);
    default:
      return raw;
  }
}

function hasLongLine(bytes: Buffer, max = 998): boolean {
  let start = 0;
  for (;;) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl < 0 ? bytes.length : nl;
    if (end - start > max + 1) return true;
    if (nl < 0) return false;
    start = nl + 1;
  }
}

function has8bit(bytes: Buffer): boolean {
  return /[\x80-\xff]/.test(bytes.toString('latin1'));
}

/** Which encoding the changed bytes need: the original one, or quoted-printable for a 7bit part that no longer fits. */
export function encodingFor(original: TransferEncoding, bytes: Buffer): TransferEncoding {
  if (original === '7bit' && (has8bit(bytes) || hasLongLine(bytes))) return 'quoted-printable';
  if (original === '8bit' && hasLongLine(bytes)) return 'quoted-printable';
  return original;
}

/** Encodes `bytes`; the result ends with a line break when `endWithNewline`. */
export function encodeTransfer(bytes: Buffer, enc: TransferEncoding, endWithNewline: boolean): Buffer {
  let out: Buffer;
  switch (enc) {
    case 'base64': {
      const b64 = bytes.toString('base64');
      const lines: string[] = [];
      for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
      out = Buffer.from(lines.join('\r\n'), 'latin1');
      break;
    }
    case 'quoted-printable': {
      // libqp keeps CR and LF as they are; bare LFs become CRLF so the lines are SMTP lines.
      const qp = libqp.wrap(libqp.encode(bytes), 76).replace(/\r?\n/g, '\r\n');
      out = Buffer.from(qp, 'latin1');
      break;
    }
    default:
      out = bytes;
  }
  const endsNl = out.length > 0 && out[out.length - 1] === 0x0a;
  if (endWithNewline && !endsNl) return Buffer.concat([out, Buffer.from('\r\n')]);
  return out;
}
