// The empty line that ends a message's header (RFC 5322 2.1). Real mail sometimes has
// none: a message of header fields only, or a body that starts right after the last
// field. mailauth's DKIM signer and ARC sealer find the header by that line and, without
// it, sign nothing (issue 12: "relayed without our seal"). As Postfix's cleanup does, the
// line is inserted where the header ends: before the first line that is neither a field
// nor a continuation, or at the end. For a header-only message the body stays empty, so
// a signature made before (by the sender) still verifies.
import type { MessageContext } from './context.ts';

const NAME = /^[!-9;-~]+[ \t]*:/;

/** The offset where the missing empty line goes, or -1 when the header is properly ended. */
export function missingHeaderEnd(message: Buffer, limit = 4 * 1024 * 1024): number {
  let pos = 0;
  const stop = Math.min(message.length, limit);
  while (pos < stop) {
    const nl = message.indexOf(0x0a, pos);
    const end = nl < 0 ? message.length : nl + 1;
    const line = message.subarray(pos, nl < 0 ? message.length : nl > pos && message[nl - 1] === 0x0d ? nl - 1 : nl);
    if (line.length === 0) return -1; // the empty line: nothing to add
    const first = line[0];
    const continuation = pos > 0 && (first === 0x20 || first === 0x09);
    if (!continuation && !NAME.test(line.subarray(0, Math.min(line.length, 1000)).toString('latin1'))) return pos;
    pos = end;
  }
  // A header longer than `limit` is not ours to repair (the malformed-message rules judge it).
  return pos >= message.length ? message.length : -1;
}

/** The message with its header ended by an empty line (the message itself when it has one). */
export function withHeaderEnd(message: Buffer): Buffer {
  const at = missingHeaderEnd(message);
  if (at < 0) return message;
  const nl = message.indexOf(0x0a);
  const eol = nl > 0 && message[nl - 1] === 0x0d ? '\r\n' : nl < 0 ? '\r\n' : '\n';
  // At the end of a last line without its line end, that line is ended first.
  const endsLine = at === message.length && message.length > 0 && message[message.length - 1] !== 0x0a;
  return Buffer.concat([message.subarray(0, at), Buffer.from(endsLine ? eol + eol : eol), message.subarray(at)]);
}

/** Before signing or sealing: the message gets the empty line it lacks, and the trace says so. */
export function endHeader(ctx: MessageContext): void {
  const ended = withHeaderEnd(ctx.body);
  if (ended === ctx.body) return;
  ctx.trace('header-end', { inserted: true, at: missingHeaderEnd(ctx.body) });
  ctx.body = ended;
}
