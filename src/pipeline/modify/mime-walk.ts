// The MIME walker: the message streams through mailsplit's Splitter, this transform and
// its Joiner. Everything passes through as the splitter cut it (headers and bodies of
// parts we do not change come out byte for byte), except the main text/plain and
// text/html bodies, which are collected, changed (edit-part.ts) and re-encoded with
// their own transfer encoding. Which parts are "the body" is decided from the
// structure alone, as mail clients read it: the first part of a multipart/mixed, the
// root (first) part of a multipart/related, every text part of a multipart/alternative
// (each is a rendering of the same content, and clients show the last they can). Embedded
// messages (message/rfc822) are leaves: a forwarded message is never changed.
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Joiner, Splitter, type Headers, type MimeNode } from '@zone-eu/mailsplit';
import { editTextPart } from './edit-part.ts';
import type { ChangeKind, InlineImage, Insertion } from './insertion.ts';
import { newBoundary, relatedContentType, siblingParts, wrapperTail } from './inline-images.ts';
import { protectedReason } from './protected-content.ts';
import { encodeTransfer, encodingFor, transferEncodingOf, decodeTransfer } from './transfer-encoding.ts';

export interface PartReport {
  /** IMAP-style part number ("1.2"; "TEXT" for a single-part message). */
  part: string;
  contentType: string;
  /** What went in ("disclaimer", ...), or why nothing did. */
  applied: ChangeKind[];
  present?: ChangeKind[];
  skipped?: string;
  /** How the part was encoded after the change (charset and transfer encoding), when changed. */
  charset?: string;
  encoding?: string;
  images?: number;
}

export interface WalkOutcome {
  message: Buffer;
  parts: PartReport[];
  /** Set when the message carries signed or encrypted content: nothing may be changed. */
  protected: string | null;
  /** Whether any part changed. */
  changed: boolean;
}

type Chunk = MimeNode | { type: 'data' | 'body'; node: MimeNode; value: Buffer };

const MAX_HEAD = 2 * 1024 * 1024;
const MAX_CHILD_NODES = 2000;

function partLabel(node: MimeNode): string {
  return (node.partNr || []).join('.') || 'TEXT';
}

/** Whether the node is (on the path to) the message's main body, read the way mail clients read it. */
function onBodyPath(node: MimeNode): boolean {
  if (node.disposition === 'attachment') return false;
  let n: MimeNode = node;
  while (n.parentNode) {
    const parent = n.parentNode;
    const index = Number((n.partNr || []).at(-1));
    if (parent.multipart === 'mixed' || parent.multipart === 'related') {
      if (index !== 1) return false;
    } else if (parent.multipart !== 'alternative') return false;
    n = parent;
  }
  return true;
}

class BodyChanger extends Transform {
  readonly parts: PartReport[] = [];
  protected: string | null = null;
  changed = false;
  #held: { node: MimeNode; chunks: Buffer[] } | null = null;

  constructor(private readonly insertions: readonly Insertion[]) {
    super({ objectMode: true });
  }

  override _transform(chunk: Chunk, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      if (chunk.type === 'body' && this.#held) {
        this.#held.chunks.push(chunk.value);
        return done();
      }
      if (this.#held) this.#release();
      if (chunk.type === 'node') this.#node(chunk);
      else this.push(chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.#held) this.#release();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  #node(node: MimeNode): void {
    const why = protectedReason(node.contentType, (node.headers && node.headers.getFirst('Content-Type')) || '');
    if (why && !this.protected) this.protected = `${why} in part ${partLabel(node)}`;
    const type = node.contentType;
    if (!this.protected && (type === 'text/plain' || type === 'text/html') && onBodyPath(node)) {
      this.#held = { node, chunks: [] };
      return; // the node's headers go out with its changed body
    }
    this.push(node);
  }

  /** Changes the collected part and passes it on. */
  #release(): void {
    const { node, chunks } = this.#held!;
    this.#held = null;
    const raw = Buffer.concat(chunks);
    const type = node.contentType as 'text/plain' | 'text/html';
    const report: PartReport = { part: partLabel(node), contentType: type, applied: [] };
    this.parts.push(report);
    const wanted = this.insertions.filter((i) => (type === 'text/html' ? i.html : i.text));
    const pass = () => {
      this.push(node);
      if (raw.length) this.push({ type: 'body', node, value: raw });
    };
    if (this.protected) {
      report.skipped = 'protected content';
      return pass();
    }
    // Without the empty line that ends the header block, added text would become header lines.
    if (!/(^|\n)\r?\n$/.test(node.getHeaders().subarray(-4).toString('latin1'))) {
      report.skipped = 'the part has no empty line between its header and its body';
      return pass();
    }
    const cte = transferEncodingOf(node.encoding);
    const decoded = decodeTransfer(raw, cte);
    const edit = editTextPart(decoded, type, node.charset, wanted, { flowed: type === 'text/plain' && node.flowed });
    if (!edit.ok) {
      if (edit.protected) this.protected = `${edit.reason} in part ${report.part}`;
      report.skipped = edit.reason;
      return pass();
    }
    if (edit.present.length) report.present = edit.present;
    if (!edit.applied.length) return pass();

    report.applied = edit.applied.map((i) => i.kind);
    if (edit.newCharset) node.setCharset(edit.newCharset);
    const out = encodingFor(cte, edit.bytes);
    if (out !== cte) setTransferEncoding(node, out);
    report.charset = edit.newCharset ?? (node.charset || 'us-ascii (undeclared)');
    report.encoding = out;
    const endsNl = raw.length > 0 && raw[raw.length - 1] === 0x0a;
    const body = encodeTransfer(edit.bytes, out, endsNl);
    this.changed = true;

    const images: InlineImage[] = type === 'text/html' ? edit.applied.flatMap((i) => i.images) : [];
    if (!images.length) {
      this.push(node);
      this.push({ type: 'body', node, value: body });
      return;
    }
    report.images = images.length;
    this.#withImages(node, body, images, endsNl);
  }

  /** Pushes the HTML part together with its inline images (see inline-images.ts). */
  #withImages(node: MimeNode, body: Buffer, images: InlineImage[], endsNl: boolean): void {
    const parent = node.parentNode;
    if (parent && parent.multipart === 'related' && node._parentBoundary) {
      // Already the root of a multipart/related: the images join it after this part.
      this.push(node);
      this.push({ type: 'body', node, value: Buffer.concat([stripTrailingNewline(body), siblingParts(node._parentBoundary.toString('latin1'), images)]) });
      return;
    }
    const boundary = newBoundary();
    if (!node.root) {
      // A new multipart/related in this part's place, holding the part and its images.
      this.push(Buffer.from(`Content-Type: ${relatedContentType(boundary)}\r\n\r\n--${boundary}\r\n`, 'latin1'));
      this.push(node);
      this.push(Buffer.concat([stripTrailingNewline(body), wrapperTail(boundary, images, false)]));
      return;
    }
    // A single-part HTML message: its content headers move into the new first part.
    const headers = node.headers as unknown as Headers;
    const contentLines = headers
      .getList()
      .filter((l) => /^content-/i.test(l.key))
      .map((l) => l.line.toString().replace(/\r?\n/g, '\r\n'));
    for (const key of new Set(headers.getList().filter((l) => /^content-/i.test(l.key)).map((l) => l.key))) headers.remove(key);
    headers.add('Content-Type', relatedContentType(boundary), headers.getList().length);
    if (!headers.hasHeader('MIME-Version')) headers.add('MIME-Version', '1.0', headers.getList().length);
    this.push(node);
    this.push(Buffer.from(`--${boundary}\r\n${contentLines.join('\r\n')}\r\n\r\n`, 'latin1'));
    this.push(Buffer.concat([stripTrailingNewline(body), wrapperTail(boundary, images, true)]));
  }
}

function stripTrailingNewline(b: Buffer): Buffer {
  let end = b.length;
  if (end && b[end - 1] === 0x0a) end--;
  if (end && b[end - 1] === 0x0d) end--;
  return b.subarray(0, end);
}

function setTransferEncoding(node: MimeNode, value: string): void {
  const headers = node.headers as unknown as Headers;
  if (headers.hasHeader('Content-Transfer-Encoding')) return headers.update('Content-Transfer-Encoding', value);
  // Next to Content-Type, not on top of the message's headers.
  const list = headers.getList();
  const ct = list.findIndex((l) => l.key === 'content-type');
  headers.add('Content-Transfer-Encoding', value, ct >= 0 ? ct + 1 : list.length);
}

/** Runs the message through the walker; throws when mailsplit cannot read it. */
export async function changeBodies(message: Buffer, insertions: readonly Insertion[]): Promise<WalkOutcome> {
  const changer = new BodyChanger(insertions);
  const out: Buffer[] = [];
  const joiner = new Joiner();
  joiner.on('data', (b: Buffer) => out.push(b));
  await pipeline(Readable.from([message]), new Splitter({ ignoreEmbedded: true, maxHeadSize: MAX_HEAD, maxChildNodes: MAX_CHILD_NODES }), changer, joiner);
  return { message: Buffer.concat(out), parts: changer.parts, protected: changer.protected, changed: changer.changed };
}
