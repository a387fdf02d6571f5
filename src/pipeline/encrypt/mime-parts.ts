// Cutting an RFC 5322 message into what an encryption or signature wraps (the MIME
// entity: the Content-* fields and the body) and what stays outside (From, To, Subject,
// Date, the trace fields...). RFC 3156 (PGP/MIME) and RFC 8551 (S/MIME) both protect the
// entity and leave the message's other header fields in the clear.

const CRLF = Buffer.from('\r\n');

export interface HeaderField {
  /** The field name as written (case kept). */
  name: string;
  /** The whole field, folded lines included, ending in CRLF. */
  raw: string;
  /** The value unfolded and trimmed. */
  value: string;
}

export interface SplitMessage {
  fields: HeaderField[];
  /** Everything after the empty line that ends the header block. */
  body: Buffer;
}

/** Splits a message into its header fields and body (a message without an empty line is all header). */
export function splitMessage(msg: Buffer): SplitMessage {
  let end = msg.indexOf('\r\n\r\n');
  let headerText: string;
  let body: Buffer;
  if (msg.subarray(0, 2).equals(CRLF)) {
    headerText = '';
    body = msg.subarray(2);
  } else if (end < 0) {
    headerText = msg.toString('latin1');
    body = Buffer.alloc(0);
    if (!headerText.endsWith('\r\n')) headerText += '\r\n';
  } else {
    end += 2;
    headerText = msg.subarray(0, end).toString('latin1');
    body = msg.subarray(end + 2);
  }
  return { fields: parseFields(headerText), body };
}

/** The header fields of a header block (latin1 text, CRLF line ends). */
export function parseFields(headerText: string): HeaderField[] {
  const fields: HeaderField[] = [];
  // Fields with continuation lines get their value once, at the end: unfolding at each
  // line made a field folded into n lines cost n² (issue 12: 40,000 lines).
  const folded = new Set<HeaderField>();
  for (const line of headerText.split(/(?<=\r\n)/)) {
    if (!line) continue;
    const last = fields[fields.length - 1];
    if ((line[0] === ' ' || line[0] === '\t') && last) {
      last.raw += line;
      folded.add(last);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // not a field (a stray line): dropped, as MIME parsers do
    fields.push({ name: line.slice(0, colon).trim(), raw: line.endsWith('\r\n') ? line : line + '\r\n', value: unfold(line.slice(colon + 1)) });
  }
  for (const f of folded) f.value = unfold(f.raw.slice(f.raw.indexOf(':') + 1));
  return fields;
}

function unfold(v: string): string {
  return v.replace(/\r\n[ \t]/g, ' ').replace(/\r\n$/, '').trim();
}

/** A Content-* field: part of the MIME entity, so inside the encryption or signature. */
export function isContentField(name: string): boolean {
  return /^content-/i.test(name);
}

/**
 * The MIME entity a PGP/MIME or S/MIME wrapper protects: the message's Content-*
 * fields, an empty line, its body. A message without Content-Type gets the RFC 2045
 * default spelled out, so the entity means the same once it stands alone.
 */
export function contentEntity(msg: Buffer): Buffer {
  const { fields, body } = splitMessage(msg);
  const content = fields.filter((f) => isContentField(f.name));
  if (!content.some((f) => /^content-type$/i.test(f.name))) {
    const eightBit = body.some((b) => b > 0x7f);
    content.unshift(field('Content-Type', eightBit ? 'text/plain; charset=utf-8' : 'text/plain; charset=us-ascii'));
    if (eightBit && !content.some((f) => /^content-transfer-encoding$/i.test(f.name))) content.push(field('Content-Transfer-Encoding', '8bit'));
  }
  return Buffer.concat([Buffer.from(content.map((f) => f.raw).join('') + '\r\n', 'latin1'), body]);
}

/** The fields that stay outside the wrapper: all but Content-* and MIME-Version (the wrapper writes its own). */
export function outerFields(msg: Buffer): HeaderField[] {
  return splitMessage(msg).fields.filter((f) => !isContentField(f.name) && !/^mime-version$/i.test(f.name));
}

export function field(name: string, value: string): HeaderField {
  return { name, value, raw: `${name}: ${value}\r\n` };
}

/** A message made of header fields and a body (the empty line between them added). */
export function joinMessage(fields: HeaderField[], body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(fields.map((f) => f.raw).join('') + '\r\n', 'latin1'), body]);
}

export interface ContentType {
  /** type/subtype, lower case */
  type: string;
  /** parameter names lower case, values unquoted */
  params: Record<string, string>;
}

/** Parses a Content-Type value (RFC 2045 5.1): type/subtype and its parameters. */
export function parseContentType(value: string | null | undefined): ContentType {
  if (!value) return { type: 'text/plain', params: {} };
  const m = /^\s*([^\s;/]+)\s*\/\s*([^\s;]+)/.exec(value);
  const type = m ? `${m[1]}/${m[2]}`.toLowerCase() : 'text/plain';
  const params: Record<string, string> = {};
  const re = /;\s*([^\s=;]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^\s;]+)/g;
  for (let p = re.exec(value); p; p = re.exec(value)) {
    params[p[1]!.toLowerCase()] = p[3] !== undefined ? p[3].replace(/\\(.)/g, '$1') : p[2]!;
  }
  return { type, params };
}

/** The Content-Type of a message or entity. */
export function contentTypeOf(msg: Buffer): ContentType {
  const { fields } = splitMessage(msg);
  return parseContentType(fields.find((f) => /^content-type$/i.test(f.name))?.value);
}

/**
 * The body parts of a multipart body, each exactly as it stands between its delimiter
 * lines (the CRLF before a delimiter belongs to the delimiter, RFC 2046 5.1.1), so a
 * signed part comes out byte for byte as it was signed.
 */
export function multipartParts(body: Buffer, boundary: string): Buffer[] {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Buffer[] = [];
  // The first delimiter may start the body; the others follow a CRLF.
  let pos = body.subarray(0, delimiter.length).equals(delimiter) ? 0 : indexOfDelimiter(body, delimiter, 0);
  while (pos >= 0) {
    const afterDelim = pos + delimiter.length;
    if (body.subarray(afterDelim, afterDelim + 2).toString('latin1') === '--') break; // close delimiter
    const lineEnd = body.indexOf('\r\n', afterDelim);
    if (lineEnd < 0) break;
    const start = lineEnd + 2;
    const next = indexOfDelimiter(body, delimiter, start - 2);
    if (next < 0) {
      parts.push(body.subarray(start)); // no close delimiter: take the rest, as MUAs do
      break;
    }
    parts.push(body.subarray(start, Math.max(start, next - 2)));
    pos = next;
  }
  return parts;
}

/** Position of the next delimiter line ("\r\n--boundary" at a line start), pointing at the "--". */
function indexOfDelimiter(body: Buffer, delimiter: Buffer, from: number): number {
  const needle = Buffer.concat([CRLF, delimiter]);
  let i = body.indexOf(needle, from);
  while (i >= 0) {
    const after = body[i + needle.length];
    // the delimiter line may only continue with "--", spaces, tabs or the line end
    if (after === undefined || after === 0x2d || after === 0x20 || after === 0x09 || after === 0x0d) return i + 2;
    i = body.indexOf(needle, i + 1);
  }
  return -1;
}

/** A boundary that cannot appear in base64, quoted-printable or armoured text. */
export function newBoundary(tag: string): string {
  return `----=_${tag}_${crypto.randomUUID()}`;
}

/** Text with any line ending turned into CRLF (armour from openpgp.js ends lines in LF). */
export function toCrlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

/** Bytes with bare LF line ends turned into CRLF (what a gpg user may have encrypted). */
export function bytesToCrlf(buf: Buffer): Buffer {
  const text = buf.toString('latin1');
  return /(^|[^\r])\n/.test(text) ? Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1') : buf;
}
