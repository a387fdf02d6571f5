// The MIME tree as SpamAssassin's rules see it: every part with its own headers (for
// mimeheader rules and the MIME eval tests) and its body decoded from base64 or
// quoted-printable, kept as bytes (latin1 strings: one character per byte, as Perl
// holds them). postal-mime gives the texts and attachments but not the part headers.

export interface SaMimePart {
  /** Header lines of the part, names lowercase, values unfolded (raw bytes as latin1). */
  headers: { name: string; value: string }[];
  /** Lowercase type/subtype; text/plain when absent. */
  type: string;
  charset: string | null;
  /** Lowercase Content-Transfer-Encoding, or null. */
  encoding: string | null;
  /** The body as it appears in the message (latin1). */
  rawBody: string;
  /** The body after transfer decoding (latin1 bytes); for multiparts the preamble and epilogue. */
  decoded: string;
  children: SaMimePart[];
  /** Nesting level, 0 for the message itself. */
  depth: number;
}

const MAX_PARTS = 1000;
const MAX_DEPTH = 20;

export function splitHeaderBody(raw: string): { head: string; body: string } {
  const m = /\r?\n\r?\n/.exec(raw);
  if (!m) return { head: raw, body: '' };
  return { head: raw.slice(0, m.index), body: raw.slice(m.index + m[0].length) };
}

export function parseHeaderBlock(head: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const line of head.split(/\r?\n(?![ \t])/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    if (/[\s]/.test(name)) continue;
    out.push({ name: name.toLowerCase(), value: line.slice(colon + 1).replace(/\r?\n/g, '\n') });
  }
  return out;
}

function param(value: string, name: string): string | null {
  const re = new RegExp(`(?:^|;)\\s*${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`, 'i');
  const m = re.exec(value);
  return m ? (m[1] ?? m[2] ?? '').trim() : null;
}

export function decodeQuotedPrintable(s: string): string {
  return s.replace(/=(?:\r?\n|([0-9A-Fa-f]{2}))/g, (_, h: string | undefined) => (h ? String.fromCharCode(parseInt(h, 16)) : ''));
}

export function decodeBase64(s: string): string {
  return Buffer.from(s.replace(/[^A-Za-z0-9+/]/g, ''), 'base64').toString('latin1');
}

function decodeBody(body: string, encoding: string | null): string {
  if (encoding === 'base64') return decodeBase64(body);
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  return body;
}

/** Parses a message (or part) given as latin1 text. */
export function parseMime(raw: string, depth = 0, budget = { parts: 0 }): SaMimePart {
  budget.parts++;
  const { head, body } = splitHeaderBody(raw);
  const headers = parseHeaderBlock(head);
  const ct = headers.find((h) => h.name === 'content-type')?.value.trim() ?? '';
  const type = (/^[\w.+-]+\/[\w.+-]+/.exec(ct)?.[0] ?? 'text/plain').toLowerCase();
  const encoding = headers.find((h) => h.name === 'content-transfer-encoding')?.value.trim().toLowerCase().split(/[\s;]/)[0] ?? null;
  const part: SaMimePart = { headers, type, charset: param(ct, 'charset')?.toLowerCase() ?? null, encoding, rawBody: body, decoded: '', children: [], depth };
  const boundary = type.startsWith('multipart/') ? param(ct, 'boundary') : null;
  if (boundary && depth < MAX_DEPTH) {
    const delim = `--${boundary}`;
    const lines = body.split('\n');
    let current: string[] | null = null;
    const chunks: string[] = [];
    const outside: string[] = [];
    for (const l of lines) {
      const t = l.replace(/\r$/, '');
      if (t.startsWith(delim)) {
        if (current) chunks.push(current.join('\n'));
        current = t.slice(delim.length).startsWith('--') ? null : [];
        continue;
      }
      if (current) current.push(l);
      else outside.push(l);
    }
    if (current) chunks.push(current.join('\n'));
    part.decoded = outside.join('\n');
    for (const c of chunks) {
      if (budget.parts >= MAX_PARTS) break;
      part.children.push(parseMime(c, depth + 1, budget));
    }
    return part;
  }
  if (type === 'message/rfc822' && depth < MAX_DEPTH && budget.parts < MAX_PARTS) {
    part.decoded = decodeBody(body, encoding);
    part.children.push(parseMime(part.decoded, depth + 1, budget));
    return part;
  }
  part.decoded = decodeBody(body, encoding);
  return part;
}

/** Leaf parts in document order (SpamAssassin's find_parts(qr/./, 1)). */
export function leafParts(root: SaMimePart): SaMimePart[] {
  const out: SaMimePart[] = [];
  const walk = (p: SaMimePart) => {
    if (!p.children.length || p.type === 'message/rfc822') {
      if (!p.children.length) out.push(p);
      else for (const c of p.children) walk(c);
      return;
    }
    for (const c of p.children) walk(c);
  };
  walk(root);
  return out;
}

/** Every part, the root first. */
export function allParts(root: SaMimePart): SaMimePart[] {
  const out: SaMimePart[] = [];
  const walk = (p: SaMimePart) => {
    out.push(p);
    for (const c of p.children) walk(c);
  };
  walk(root);
  return out;
}
