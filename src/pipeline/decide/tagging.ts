// Header work of the decide stage: the X-Spam headers, the subject tag, and removal of
// headers that came with the message claiming a verdict of ours: X-Spam-* and X-Hermes-*
// (a sender could otherwise write its own "X-Spam-Flag: NO" or an X-Hermes-Rule header
// for a mailbox rule to trust). Forged Authentication-Results go in the verify stage.
import type { SpamResult } from '../filter/spam/types.ts';

const VERDICT_HEADER = /^x-(spam|hermes)-[!-9;-~]*[ \t]*:/i;
/** The X-Spam headers a spam filter writes (ours among them), left out before Bayes learns a message. */
const SPAM_HEADER = /^x-spam-(flag|score|status|level)[ \t]*:/i;

/** The end of the header block (just after the last header line's line end), or the length when there is none. */
function headerEnd(msg: Buffer): number {
  const crlf = msg.indexOf('\r\n\r\n');
  const lf = msg.indexOf('\n\n');
  if (lf >= 0 && (crlf < 0 || lf < crlf)) return lf + 1;
  return crlf < 0 ? msg.length : crlf + 2;
}

/** Removes every X-Spam-* and X-Hermes-* header (with its continuation lines). */
export function stripVerdictHeaders(msg: Buffer): Buffer {
  return stripHeaders(msg, VERDICT_HEADER);
}

/** Removes X-Spam-Flag/Score/Status/Level headers (with their continuation lines). */
export function stripSpamHeaders(msg: Buffer): Buffer {
  return stripHeaders(msg, SPAM_HEADER);
}

function stripHeaders(msg: Buffer, name: RegExp): Buffer {
  const end = headerEnd(msg);
  const head = msg.subarray(0, end).toString('latin1');
  if (!/^x-(spam|hermes)-/im.test(head)) return msg;
  const lines = head.split(/(?<=\n)/);
  const kept: string[] = [];
  let dropping = false;
  for (const l of lines) {
    if (/^[ \t]/.test(l) && dropping) continue;
    dropping = name.test(l);
    if (!dropping) kept.push(l);
  }
  return Buffer.concat([Buffer.from(kept.join(''), 'latin1'), msg.subarray(end)]);
}

/** Puts `prefix` in front of the Subject (once: a subject that has it already is left alone). */
export function tagSubject(msg: Buffer, prefix: string): { body: Buffer; added: string | null } {
  const end = headerEnd(msg);
  const head = msg.subarray(0, end).toString('latin1');
  const m = /^subject[ \t]*:[ \t]*/im.exec(head);
  // The prefix is ours; encode it when it is not plain ASCII.
  const p = /^[\x20-\x7e]*$/.test(prefix) ? prefix : `=?UTF-8?B?${Buffer.from(prefix).toString('base64')}?=`;
  if (!m) return { body: msg, added: `Subject: ${p}\r\n` };
  const at = m.index + m[0].length;
  if (head.slice(at, at + p.length).toLowerCase() === p.toLowerCase()) return { body: msg, added: null };
  const out = Buffer.concat([msg.subarray(0, at), Buffer.from(`${p} `, 'latin1'), msg.subarray(at)]);
  return { body: out, added: null };
}

/** Folds "tests=A=1,B=2,..." so that no header line grows past ~78 characters. */
function foldList(start: string, items: string[]): string {
  let out = start;
  let line = start.length;
  items.forEach((it, i) => {
    const piece = i === 0 ? it : `,${it}`;
    if (line + piece.length > 76 && i > 0) {
      out += ',\r\n\t' + it;
      line = 1 + it.length;
    } else {
      out += piece;
      line += piece.length;
    }
  });
  return out;
}

export interface SpamHeaderInput {
  spam: SpamResult | undefined;
  /** The score counted for these recipients (engine plus rule scores). */
  score: number | null;
  /** The copy is tagged or held as spam. */
  isSpam: boolean;
  skipped: string | null;
}

/** X-Spam-Flag (spam only), X-Spam-Score and X-Spam-Status header lines, each ending in CRLF. */
export function spamHeaders(h: SpamHeaderInput): string[] {
  const out: string[] = [];
  if (h.isSpam) out.push('X-Spam-Flag: YES\r\n');
  if (!h.spam) {
    out.push(`X-Spam-Status: No, skipped (${oneLine(h.skipped ?? 'not scanned')})\r\n`);
    return out;
  }
  const score = h.score ?? h.spam.score;
  out.push(`X-Spam-Score: ${score}\r\n`);
  const tests = [...h.spam.symbols].sort((a, b) => b.score - a.score || a.name.localeCompare(b.name)).map((s) => `${s.name}=${Math.round(s.score * 1000) / 1000}`);
  const status = h.skipped
    ? `X-Spam-Status: No, score=${score} (not acted on: ${oneLine(h.skipped)}) tests=`
    : `X-Spam-Status: ${h.isSpam ? 'Yes' : 'No'}, score=${score} tests=`;
  out.push(`${foldList(status, tests.length ? tests : ['none'])}\r\n`);
  return out;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/[()]/g, '').slice(0, 200);
}
