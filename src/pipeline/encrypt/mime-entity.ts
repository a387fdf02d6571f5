// A message split into the headers that stay outside the encryption (From, To, Subject,
// Date, Message-ID, trace fields...) and the MIME entity that is encrypted or signed
// (its Content-* header fields and the body). S/MIME (RFC 8551 3.1) and PGP/MIME
// (RFC 3156) both wrap exactly that entity.
export interface SplitMessage {
  /** Header fields that stay outside, each with its folding and CRLF, in order. */
  outer: string[];
  /** The entity: Content-* fields, a blank line, the body (CRLF line ends). */
  entity: Buffer;
}

const CONTENT_FIELD = /^content-/i;
const MIME_VERSION = /^mime-version\s*:/i;

/** Header fields of a header block, each with its continuation lines and line end. */
export function headerFields(block: string): string[] {
  const out: string[] = [];
  for (const line of block.split(/(?<=\r\n)/)) {
    if (/^[ \t]/.test(line) && out.length) out[out.length - 1] += line;
    else if (line) out.push(line);
  }
  return out;
}

export function splitEntity(message: Buffer): SplitMessage {
  const sep = message.indexOf('\r\n\r\n');
  const headEnd = sep < 0 ? message.length : sep + 2;
  const bodyStart = sep < 0 ? message.length : sep + 4;
  const fields = headerFields(message.subarray(0, headEnd).toString('latin1'));
  const outer: string[] = [];
  const content: string[] = [];
  for (const f of fields) {
    if (CONTENT_FIELD.test(f)) content.push(f);
    else if (!MIME_VERSION.test(f)) outer.push(f);
  }
  // RFC 2045 5.2: no Content-Type means text/plain; us-ascii. Said explicitly inside,
  // because the outer Content-Type will be the encryption's.
  if (!content.some((f) => /^content-type\s*:/i.test(f))) content.unshift('Content-Type: text/plain; charset=us-ascii\r\n');
  const entity = Buffer.concat([Buffer.from(content.join(''), 'latin1'), Buffer.from('\r\n'), message.subarray(bodyStart)]);
  return { outer, entity };
}

/** The outer headers, MIME-Version, the new entity's Content-* fields and body. */
export function joinEntity(outer: readonly string[], newEntity: Buffer): Buffer {
  return Buffer.concat([Buffer.from(outer.join('') + 'MIME-Version: 1.0\r\n', 'latin1'), newEntity]);
}

/** The value of a header field of the outer headers (unfolded), or null. */
export function outerField(outer: readonly string[], name: string): string | null {
  const re = new RegExp(`^${name}\\s*:`, 'i');
  const f = outer.find((x) => re.test(x));
  return f ? f.slice(f.indexOf(':') + 1).replace(/\r\n[ \t]/g, ' ').trim() : null;
}
