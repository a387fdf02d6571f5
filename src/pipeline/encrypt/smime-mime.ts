// The MIME side of S/MIME (RFC 8551 3): application/pkcs7-mime enveloped-data,
// multipart/signed with application/pkcs7-signature, and reading both (and opaque
// signed-data) from mail others made.
import { randomBytes } from 'node:crypto';
import mimeFuncs from 'nodemailer/lib/mime-funcs/index.js';
import { headerFields } from './mime-entity.ts';

function base64Lines(der: Buffer): string {
  return (der.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n') + '\r\n';
}

/** The entity of an encrypted message: application/pkcs7-mime, base64. */
export function envelopedEntity(der: Buffer): Buffer {
  return Buffer.from(
    'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n' +
      'Content-Transfer-Encoding: base64\r\n' +
      'Content-Disposition: attachment; filename="smime.p7m"\r\n' +
      'Content-Description: S/MIME Encrypted Message\r\n' +
      '\r\n' +
      base64Lines(der),
  );
}

/** multipart/signed around `entity`, the detached signature `der` as its second part. */
export function signedEntity(entity: Buffer, der: Buffer): Buffer {
  const boundary = `----=_smime_${randomBytes(12).toString('hex')}`;
  return Buffer.concat([
    Buffer.from(
      `Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256;\r\n boundary="${boundary}"\r\n\r\n` +
        'This is a cryptographically signed message in MIME format.\r\n\r\n' +
        `--${boundary}\r\n`,
    ),
    entity,
    Buffer.from(
      `\r\n--${boundary}\r\n` +
        'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n' +
        'Content-Transfer-Encoding: base64\r\n' +
        'Content-Disposition: attachment; filename="smime.p7s"\r\n' +
        'Content-Description: S/MIME Cryptographic Signature\r\n\r\n' +
        base64Lines(der) +
        `\r\n--${boundary}--\r\n`,
    ),
  ]);
}

export type SmimeShape =
  | { kind: 'enveloped'; der: Buffer }
  | { kind: 'signed'; content: Buffer; signature: Buffer }
  | { kind: 'opaque-signed'; der: Buffer }
  | { kind: 'none' };

interface Head {
  fields: string[];
  body: Buffer;
}

function splitHead(entity: Buffer): Head {
  const sep = entity.indexOf('\r\n\r\n');
  const headEnd = sep < 0 ? entity.length : sep + 2;
  return { fields: headerFields(entity.subarray(0, headEnd).toString('latin1')), body: sep < 0 ? Buffer.alloc(0) : entity.subarray(sep + 4) };
}

function field(fields: string[], name: string): string | null {
  const re = new RegExp(`^${name}\\s*:`, 'i');
  const f = fields.find((x) => re.test(x));
  return f ? f.slice(f.indexOf(':') + 1).replace(/\r\n[ \t]/g, ' ').trim() : null;
}

function decodeBody(fields: string[], body: Buffer): Buffer {
  const cte = (field(fields, 'Content-Transfer-Encoding') ?? '').toLowerCase();
  if (cte === 'base64') return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  return body;
}

/** What kind of S/MIME an entity (or a whole message) is, with its parts. */
export function smimeShape(entity: Buffer): SmimeShape {
  const { fields, body } = splitHead(entity);
  const ct = field(fields, 'Content-Type');
  if (!ct) return { kind: 'none' };
  const parsed = mimeFuncs.parseHeaderValue(ct);
  const type = parsed.value.toLowerCase();
  const params = parsed.params as Record<string, string>;
  if (type === 'application/pkcs7-mime' || type === 'application/x-pkcs7-mime') {
    const st = (params['smime-type'] ?? '').toLowerCase();
    const der = decodeBody(fields, body);
    if (st === 'signed-data') return { kind: 'opaque-signed', der };
    if (st === 'enveloped-data' || st === '' || st === 'authenveloped-data') return { kind: 'enveloped', der };
    return { kind: 'none' };
  }
  if (type === 'multipart/signed') {
    const protocol = (params.protocol ?? '').toLowerCase();
    if (protocol !== 'application/pkcs7-signature' && protocol !== 'application/x-pkcs7-signature') return { kind: 'none' };
    const boundary = params.boundary;
    if (!boundary) return { kind: 'none' };
    const parts = multipartParts(body, boundary);
    if (parts.length !== 2) return { kind: 'none' };
    const sig = splitHead(parts[1]!);
    return { kind: 'signed', content: parts[0]!, signature: decodeBody(sig.fields, sig.body) };
  }
  return { kind: 'none' };
}

/** The parts of a multipart body, byte-exact (RFC 2046 5.1.1: the CRLF before a delimiter belongs to it). */
export function multipartParts(body: Buffer, boundary: string): Buffer[] {
  const delim = Buffer.from(`--${boundary}`);
  const starts: number[] = [];
  let at = body.indexOf(delim);
  while (at >= 0) {
    if (at === 0 || (body[at - 1] === 0x0a && body[at - 2] === 0x0d)) starts.push(at);
    at = body.indexOf(delim, at + delim.length);
  }
  const parts: Buffer[] = [];
  for (let i = 0; i < starts.length - 1; i++) {
    const lineEnd = body.indexOf('\r\n', starts[i]!);
    if (lineEnd < 0) break;
    const close = body.subarray(starts[i]!, starts[i]! + delim.length + 2).toString('latin1').endsWith('--');
    if (close) break;
    parts.push(body.subarray(lineEnd + 2, starts[i + 1]! - 2));
  }
  return parts;
}
