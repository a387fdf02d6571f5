// postal-mime, with two of its loops made linear. The gateway parses every message it
// is offered with it, so a message built to make the parser slow holds the worker (and
// every other session on it) for as long as the parse takes. Two shapes did, in
// postal-mime 2.7 (issue 12: 25-40 s of CPU for a message under 1 MB):
//
// 1. A header folded into tens of thousands of lines. MimeNode.processHeaders joins
//    continuation lines from the last one backwards, splicing the line array and
//    re-testing a string that grows by one line at each step: quadratic in the lines.
//    Here a continuation line is joined to the previous header line as it arrives, so
//    processHeaders finds nothing left to join. The result is the same string
//    ("line\n continuation"), byte for byte.
// 2. Tens of thousands of parts in one multipart. At each boundary the parser awaits
//    finalize() of every earlier sibling (all long finished): quadratic in the parts.
//    Here each node remembers how many of its children are finished and starts after them.
//
// And a limit postal-mime does not have: at most MAX_MIME_PARTS parts per message (an
// embedded message/rfc822 counts its own). Each part costs the parser a fixed amount
// (about 0.1 ms: a Blob per part), and every stage after it walks the parts again; a
// message over the limit is refused by the parser, which the filter stages record as a
// "malformed" finding (filter.malformedAction), as for postal-mime's own limits.
//
// The patch is on MimeNode's prototype, which postal-mime does not export: it is reached
// through a parser's root node. Everything in src imports PostalMime from here. A new
// postal-mime whose internals differ fails test/unit/mime-limits.test.ts (time bounds
// and the same parse as before), not silently.
import PostalMime from 'postal-mime';

export type { Address, Attachment, Email } from 'postal-mime';
export { decodeWords } from 'postal-mime';

/** Parts per message (per parser: an inline message/rfc822 is parsed on its own). */
export const MAX_MIME_PARTS = 2000;

interface ParserInternals {
  [partCount]?: number;
}

interface MimeNodeInternals {
  postalMime: ParserInternals;
  processHeaders(): void;
  state: string;
  headerLines: string[];
  headerSize: number;
  options: { maxHeadersSize: number };
  childNodes: MimeNodeInternals[];
  feed(line: Uint8Array): unknown;
  finalize(): Promise<void>;
  finalizeChildNodes(): Promise<void>;
  [finishedChildren]?: number;
}

const finishedChildren = Symbol('finishedChildren');
const partCount = Symbol('partCount');
// postal-mime decodes header lines as UTF-8 (its default decoder), non-fatally.
const headerDecoder = new TextDecoder('utf-8');
const CONTINUATION = /^\s/;

function install(): void {
  const root = (new PostalMime() as unknown as { root: MimeNodeInternals }).root;
  const proto = Object.getPrototypeOf(root) as MimeNodeInternals;
  if (
    typeof proto.feed !== 'function' ||
    typeof proto.finalizeChildNodes !== 'function' ||
    typeof proto.processHeaders !== 'function' ||
    !Array.isArray(root.headerLines) ||
    typeof root.postalMime !== 'object'
  ) {
    throw new Error('postal-mime internals changed: review src/pipeline/mime/postal-mime.ts');
  }
  const feed = proto.feed;
  proto.feed = function (this: MimeNodeInternals, line: Uint8Array) {
    // The empty line ends the header (processHeaders runs), and bodies: postal-mime's own code.
    if (this.state !== 'header' || !line.length) return feed.call(this, line);
    this.headerSize += line.length;
    if (this.headerSize > this.options.maxHeadersSize) throw new Error(`Maximum header size of ${this.options.maxHeadersSize} bytes exceeded`);
    const text = headerDecoder.decode(line);
    const lines = this.headerLines;
    // As processHeaders would: a line starting with white space continues the one above
    // (except the very first line, which has none above it).
    if (lines.length && CONTINUATION.test(text)) lines[lines.length - 1] += '\n' + text;
    else lines.push(text);
    return undefined;
  };
  // Every node's header is processed exactly once (at its empty line, or when the node is
  // finalized without one): the place to count the parts.
  const processHeaders = proto.processHeaders;
  proto.processHeaders = function (this: MimeNodeInternals) {
    const parser = this.postalMime;
    const n = (parser[partCount] ?? 0) + 1;
    parser[partCount] = n;
    if (n > MAX_MIME_PARTS) throw new Error(`Maximum of ${MAX_MIME_PARTS} MIME parts exceeded`);
    return processHeaders.call(this);
  };
  proto.finalizeChildNodes = async function (this: MimeNodeInternals) {
    // A child is only created after its earlier siblings were finalized, and a finished
    // node stays finished: only the children from the last call's end need the call.
    const children = this.childNodes;
    let i = this[finishedChildren] ?? 0;
    for (; i < children.length; i++) await children[i]!.finalize();
    this[finishedChildren] = i;
  };
}

install();

export default PostalMime;
