// Changes the decoded bytes of one text part (text/plain or text/html): the inserted
// blocks are encoded in the part's own charset and spliced in, leaving the sender's
// bytes untouched. Only when a plain-text block cannot be written in the declared
// charset is the whole part converted to UTF-8 (and its charset parameter updated);
// HTML never needs that: characters the charset lacks become &#NNNN; references.
import {
  decodeText,
  encodeText,
  hasBom,
  htmlForCharset,
  isAscii,
  isAsciiCompatible,
  isKnownCharset,
  isValidUtf8,
  normaliseCharset,
  representable,
} from './charset.ts';
import { asFlowedBlock, htmlBottomIndex, htmlTopIndex, lineEndingOf, plainBottomSuffix, plainTopPrefix } from './insertion-points.ts';
import { alreadyPresent, type ChangeKind, type Insertion } from './insertion.ts';
import { inlinePgpReason } from './protected-content.ts';

export interface PartEdit {
  bytes: Buffer;
  /** The charset to declare now, when it changed. */
  newCharset?: string;
  applied: Insertion[];
  /** Kinds left out because the part already shows them (quoted in a reply). */
  present: ChangeKind[];
}

export type PartEditOutcome = ({ ok: true } & PartEdit) | { ok: false; reason: string; protected?: boolean };

const ASCII_RE = /^[\x00-\x7f]*$/;

/** Blocks are separated by one blank line, whatever line breaks their templates end with. */
const trimBreaks = (s: string) => s.replace(/^[\r\n]+|[\r\n]+$/g, '');

export function editTextPart(
  bytes: Buffer,
  contentType: 'text/plain' | 'text/html',
  declaredCharset: string | false,
  insertions: readonly Insertion[],
  opts: { flowed?: boolean } = {},
): PartEditOutcome {
  const isHtml = contentType === 'text/html';
  const declared = normaliseCharset(declaredCharset);
  const binary = bytes.toString('latin1');

  const pgp = inlinePgpReason(binary);
  if (pgp) return { ok: false, reason: pgp, protected: true };

  // The charset we read and write the part in (null: undeclared and not UTF-8, so only ASCII may be added).
  let charset: string | null = declared;
  if (!declared) charset = isAscii(bytes) || isValidUtf8(bytes) ? 'utf-8' : null;
  const known = charset !== null && isKnownCharset(charset);
  if (charset && !isAsciiCompatible(charset) && !known) return { ok: false, reason: `charset ${charset} is not supported` };

  const content = known ? decodeText(bytes, charset!) : binary;
  const applied: Insertion[] = [];
  const present: ChangeKind[] = [];
  for (const ins of insertions) {
    if (ins.presence && alreadyPresent(content, isHtml, ins.presence)) present.push(ins.kind);
    else applied.push(ins);
  }
  if (!applied.length) return { ok: true, bytes, applied, present };

  const top = applied.filter((i) => i.position === 'top');
  const bottom = applied.filter((i) => i.position === 'bottom');
  // Line breaks are read from the characters, not the bytes, for UTF-16 and the like.
  const shape = charset && !isAsciiCompatible(charset) ? content : binary;
  const eol = lineEndingOf(isHtml ? shape.slice(0, 4096) : shape);

  if (isHtml) {
    const topHtml = top.map((i) => i.html).join(eol);
    const bottomHtml = bottom.map((i) => i.html).join(eol);
    if (charset && !isAsciiCompatible(charset)) {
      const ti = htmlTopIndex(content);
      const bi = Math.max(ti, htmlBottomIndex(content));
      const out = content.slice(0, ti) + topHtml + content.slice(ti, bi) + bottomHtml + content.slice(bi);
      return { ok: true, bytes: encodeText(out, charset, hasBom(bytes)), applied, present };
    }
    const ti = htmlTopIndex(binary);
    const bi = Math.max(ti, htmlBottomIndex(binary));
    const enc = (s: string) => (s ? encodeText(htmlForCharset(s, known ? charset : null), known ? charset! : 'latin1') : Buffer.alloc(0));
    return { ok: true, bytes: Buffer.concat([bytes.subarray(0, ti), enc(topHtml), bytes.subarray(ti, bi), enc(bottomHtml), bytes.subarray(bi)]), applied, present };
  }

  const endsNl = /\n$/.test(shape);
  const block = (list: Insertion[]) => {
    const text = list.map((i) => trimBreaks(i.text)).join('\n\n');
    return opts.flowed ? asFlowedBlock(text) : text;
  };
  const prefix = top.length ? plainTopPrefix(block(top), eol) : '';
  const suffix = bottom.length ? plainBottomSuffix(block(bottom), eol, endsNl || shape.length === 0) : '';
  const added = prefix + suffix;

  if (charset && (!isAsciiCompatible(charset) || (known && !representable(added, charset)))) {
    // Decode, insert, encode: in the declared charset when it can carry the blocks, else in UTF-8.
    const target = representable(added, charset) ? charset : 'utf-8';
    // Converting must not lose a byte of the sender's text (8-bit bytes under "us-ascii", say).
    const bom = hasBom(bytes);
    // (UTF-7 and UTF-16 have several byte forms for one text: there, only a replacement character betrays a loss.)
    const lossless = isAsciiCompatible(charset) ? encodeText(content, charset, bom).equals(bytes) : !content.includes('\uFFFD');
    if (!lossless) return { ok: false, reason: `the part's bytes are not valid ${charset}; converting it would change the sender's text` };
    const out = encodeText(prefix + content + suffix, target, bom && target === charset);
    return { ok: true, bytes: out, applied, present, ...(target !== declared ? { newCharset: target } : {}) };
  }
  if (!ASCII_RE.test(added) && !known) {
    return { ok: false, reason: charset ? `charset ${charset} is unknown, and the text to add is not ASCII` : 'the part has 8-bit text in an undeclared charset, and the text to add is not ASCII' };
  }
  const enc = known ? (s: string) => encodeText(s, charset!) : (s: string) => Buffer.from(s, 'latin1');
  const out = Buffer.concat([enc(prefix), bytes, enc(suffix)]);
  // An undeclared charset was read as UTF-8 (the text is valid UTF-8): say so once we add non-ASCII.
  const newCharset = !declared && !ASCII_RE.test(added) ? 'utf-8' : undefined;
  return { ok: true, bytes: out, applied, present, ...(newCharset ? { newCharset } : {}) };
}
