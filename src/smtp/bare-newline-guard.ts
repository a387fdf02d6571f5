// Bare-newline / SMTP smuggling guard for the DATA stream, the equivalent of Postfix's
// `smtpd_forbid_bare_newline = yes` (and its CR counterpart).
//
// SMTP smuggling (CVE-2023-51764/51765/51766) relies on two servers disagreeing about
// where DATA ends: one takes `<LF>.<LF>` or `<CR>.<CR>` as the end of data, the other
// does not, so a second message hidden in the first leaks out. A receiver that refuses
// every line ending except CRLF cannot be part of that disagreement. The input is the
// un-dot-stuffed content that smtp-server emits (it only ends DATA on `<CRLF>.<CRLF>`,
// and the CRLF ending the last line is part of the content), in arbitrary chunks.
//
// The check runs on native Buffer.indexOf scans: for each LF we only look at the byte
// before it, and every CR must sit right before the next LF. Chunks are never copied.

import { Transform, type TransformCallback, type TransformOptions } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;

export interface BareNewlineViolation {
  /** 'bare-lf': an LF not preceded by CR; 'bare-cr': a CR not followed by LF. */
  kind: 'bare-lf' | 'bare-cr';
  /** Offset of the offending byte from the start of the DATA content. */
  offset: number;
}

export class BareNewlineGuard {
  #violation: BareNewlineViolation | null = null;
  /** Bytes seen before the current chunk. */
  #base = 0;
  /** The previous chunk ended with a CR whose LF has not been seen yet. */
  #pendingCr = false;
  #finished = false;

  /** The first bare LF or bare CR found, or null while the content is clean. */
  get violation(): BareNewlineViolation | null {
    return this.#violation;
  }

  /** Total number of bytes pushed so far. */
  get bytes(): number {
    return this.#base;
  }

  push(data: Buffer | Uint8Array): void {
    // A Buffer view over the same memory (no copy) when handed a plain Uint8Array.
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const len = chunk.length;
    if (len === 0) return;
    const base = this.#base;
    this.#base = base + len;
    if (this.#violation !== null || this.#finished) return;

    let pos = 0;
    if (this.#pendingCr) {
      this.#pendingCr = false;
      if (chunk[0] !== LF) {
        this.#violation = { kind: 'bare-cr', offset: base - 1 };
        return;
      }
      pos = 1; // this LF completes the CRLF begun in the previous chunk
    }

    let cr = chunk.indexOf(CR, pos);
    let lf = chunk.indexOf(LF, pos);
    for (;;) {
      if (lf === -1) {
        // No more LF in this chunk: a CR is fine only as the very last byte, where
        // the next chunk (or finish()) decides.
        if (cr === -1) return;
        if (cr === len - 1) {
          this.#pendingCr = true;
          return;
        }
        this.#violation = { kind: 'bare-cr', offset: base + cr };
        return;
      }
      // Everything in [pos, lf) must be free of CR except lf - 1, which must be one.
      if (cr === -1 || cr > lf) {
        // No CR before this LF since the previous line ending: bare LF.
        this.#violation = { kind: 'bare-lf', offset: base + lf };
        return;
      }
      if (cr !== lf - 1) {
        this.#violation = { kind: 'bare-cr', offset: base + cr };
        return;
      }
      pos = lf + 1;
      if (pos >= len) return;
      cr = chunk.indexOf(CR, pos);
      lf = chunk.indexOf(LF, pos);
    }
  }

  /**
   * Call once the whole content has been pushed: a CR as the very last byte of the
   * message has no LF after it and is therefore bare. Further pushes are ignored.
   */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#pendingCr && this.#violation === null) {
      this.#violation = { kind: 'bare-cr', offset: this.#base - 1 };
    }
    this.#pendingCr = false;
  }
}

/**
 * Pass-through stream running a BareNewlineGuard over everything that flows through
 * it. Chunks are forwarded unchanged (same Buffer objects). It never errors on a
 * violation: the owner decides (typically: keep draining, then reply 5xx). It emits
 * 'violation' once, when the first one is found.
 */
export class BareNewlineGuardTransform extends Transform {
  readonly guard = new BareNewlineGuard();

  constructor(options?: Omit<TransformOptions, 'transform' | 'flush' | 'objectMode' | 'readableObjectMode' | 'writableObjectMode'>) {
    super(options);
  }

  get violation(): BareNewlineViolation | null {
    return this.guard.violation;
  }

  override _transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    const before = this.guard.violation;
    this.guard.push(buf);
    if (before === null && this.guard.violation !== null) this.emit('violation', this.guard.violation);
    callback(null, buf);
  }

  override _flush(callback: TransformCallback): void {
    const before = this.guard.violation;
    this.guard.finish();
    if (before === null && this.guard.violation !== null) this.emit('violation', this.guard.violation);
    callback();
  }
}

/**
 * smtp.bareLf = 'normalize' (Postfix 3.9's smtpd_forbid_bare_newline = normalize): a line
 * that ends in a bare LF is taken as ending in CRLF. The end of DATA is still only
 * CRLF.CRLF (smtp-server never ends DATA on anything else), so "<LF>.<LF>" stays content:
 * after this it is a line holding one dot, which the next hop receives dot-stuffed. No
 * two servers on the path can disagree about where the message ends: SMTP smuggling fails.
 */
export function normalizeBareLf(content: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  let lf = content.indexOf(LF);
  while (lf !== -1) {
    if (lf === 0 || content[lf - 1] !== CR) {
      parts.push(content.subarray(start, lf), CRLF);
      start = lf + 1;
    }
    lf = content.indexOf(LF, lf + 1);
  }
  if (!parts.length) return content;
  parts.push(content.subarray(start));
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');
