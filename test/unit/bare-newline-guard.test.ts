import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BareNewlineGuard, BareNewlineGuardTransform, type BareNewlineViolation } from '../../src/smtp/bare-newline-guard.ts';

function check(chunks: Array<string | Buffer>, finish = true): BareNewlineViolation | null {
  const g = new BareNewlineGuard();
  for (const c of chunks) g.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
  if (finish) g.finish();
  return g.violation;
}

/** Reference implementation: one byte at a time. */
function naive(buf: Buffer): BareNewlineViolation | null {
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a && (i === 0 || buf[i - 1] !== 0x0d)) return { kind: 'bare-lf', offset: i };
    if (buf[i] === 0x0d && buf[i + 1] !== 0x0a) return { kind: 'bare-cr', offset: i };
  }
  return null;
}

const CLEAN =
  'From: a@example.org\r\nTo: b@example.net\r\nSubject: hello\r\n\r\nline one\r\n.\r\n..dot\r\n\r\nlast line\r\n';

test('clean CRLF message passes in one chunk', () => {
  assert.equal(check([CLEAN]), null);
  assert.equal(check(['']), null);
  assert.equal(check([]), null);
  assert.equal(check(['no newline at all']), null);
});

test('clean CRLF message passes when split at every position (two and three chunks)', () => {
  const buf = Buffer.from(CLEAN);
  for (let i = 0; i <= buf.length; i++) {
    assert.equal(check([buf.subarray(0, i), buf.subarray(i)]), null, `split at ${i}`);
    for (let j = i; j <= buf.length; j += 3) {
      assert.equal(check([buf.subarray(0, i), buf.subarray(i, j), buf.subarray(j)]), null, `split at ${i},${j}`);
    }
  }
  // one byte per chunk, including empty chunks in between
  const g = new BareNewlineGuard();
  for (const b of buf) {
    g.push(Buffer.alloc(0));
    g.push(Buffer.from([b]));
  }
  g.finish();
  assert.equal(g.violation, null);
  assert.equal(g.bytes, buf.length);
});

test('<LF>.<LF> smuggling is caught at the first bare LF', () => {
  const msg = 'Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@example.com>\r\n';
  assert.deepEqual(check([msg]), { kind: 'bare-lf', offset: msg.indexOf('\n.\n') });
  // also <CR><LF>.<LF> (the Postfix/Exchange variants)
  const v2 = 'Subject: x\r\n\r\nhello\r\n.\nMAIL FROM:<evil@example.com>\r\n';
  assert.deepEqual(check([v2]), { kind: 'bare-lf', offset: v2.indexOf('.\n') + 1 });
});

test('<CR>.<CR> smuggling is caught at the first bare CR', () => {
  const msg = 'Subject: x\r\n\r\nhello\r.\rMAIL FROM:<evil@example.com>\r\n';
  assert.deepEqual(check([msg]), { kind: 'bare-cr', offset: msg.indexOf('\r.\r') });
  const v2 = 'Subject: x\r\n\r\nhello\r\n.\rMAIL FROM:<e@example.com>\r\n';
  assert.deepEqual(check([v2]), { kind: 'bare-cr', offset: v2.indexOf('.\r') + 1 });
});

test('bare LF in a header', () => {
  const msg = 'From: a@example.org\nTo: b@example.net\r\n\r\nbody\r\n';
  assert.deepEqual(check([msg]), { kind: 'bare-lf', offset: 19 });
  // LF as the very first byte
  assert.deepEqual(check(['\nSubject: x\r\n']), { kind: 'bare-lf', offset: 0 });
  // LF LF: the second LF is bare even though the first is fine
  assert.deepEqual(check(['a\r\n\nb']), { kind: 'bare-lf', offset: 3 });
});

test('bare CR in the middle, and CR CR LF', () => {
  assert.deepEqual(check(['Subject: a\rb\r\n']), { kind: 'bare-cr', offset: 10 });
  assert.deepEqual(check(['ab\r\r\n']), { kind: 'bare-cr', offset: 2 });
});

test('CR at the end of one chunk and LF at the start of the next is fine', () => {
  assert.equal(check(['Subject: a\r', '\nbody\r', '\n']), null);
  assert.equal(check(['\r', '\n', '\r', '\n']), null);
});

test('CR at the end of one chunk followed by something else is a bare CR', () => {
  assert.deepEqual(check(['Subject: a\r', 'b\r\n']), { kind: 'bare-cr', offset: 10 });
  assert.deepEqual(check(['Subject: a\r', '\r\n']), { kind: 'bare-cr', offset: 10 });
});

test('CR as the very last byte is only reported by finish()', () => {
  const g = new BareNewlineGuard();
  g.push(Buffer.from('body\r\nend\r'));
  assert.equal(g.violation, null);
  g.finish();
  assert.deepEqual(g.violation, { kind: 'bare-cr', offset: 9 });
  g.finish(); // idempotent
  assert.deepEqual(g.violation, { kind: 'bare-cr', offset: 9 });
});

test('the first violation is kept; later content does not change it', () => {
  const g = new BareNewlineGuard();
  g.push(Buffer.from('a\nb'));
  g.push(Buffer.from('c\rd'));
  g.finish();
  assert.deepEqual(g.violation, { kind: 'bare-lf', offset: 1 });
  assert.equal(g.bytes, 6);
});

test('accepts a plain Uint8Array view without copying', () => {
  const g = new BareNewlineGuard();
  const backing = new Uint8Array(Buffer.from('xxa\r\nb\nyy'));
  g.push(backing.subarray(2, 7)); // "a\r\nb\n"
  assert.deepEqual(g.violation, { kind: 'bare-lf', offset: 4 });
});

test('agrees with a byte-by-byte reference on random input and random splits', () => {
  let seed = 42;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const alphabet = [0x0d, 0x0a, 0x2e, 0x41, 0x20];
  for (let round = 0; round < 3000; round++) {
    const len = rnd(24);
    const buf = Buffer.alloc(len);
    for (let i = 0; i < len; i++) {
      // mostly CRLF pairs so that some inputs are clean
      if (rnd(3) === 0 && i + 1 < len) {
        buf[i++] = 0x0d;
        buf[i] = 0x0a;
      } else buf[i] = alphabet[rnd(alphabet.length)]!;
    }
    const chunks: Buffer[] = [];
    let p = 0;
    while (p < len) {
      const n = 1 + rnd(5);
      chunks.push(buf.subarray(p, p + n));
      p += n;
    }
    assert.deepEqual(check(chunks), naive(buf), JSON.stringify(buf.toString('latin1')));
  }
});

test('BareNewlineGuardTransform passes bytes through unchanged and reports', async () => {
  const input = [Buffer.from('Subject: x\r'), Buffer.from('\n\r\nbody\n.\n'), Buffer.from('MAIL FROM:<x@y>\r\n')];
  const t = new BareNewlineGuardTransform();
  const seen: Buffer[] = [];
  let events = 0;
  t.on('violation', () => events++);
  await pipeline(
    Readable.from(input),
    t,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        seen.push(chunk);
        cb();
      },
    }),
  );
  assert.deepEqual(Buffer.concat(seen), Buffer.concat(input));
  // same Buffer objects: no copies
  assert.equal(seen[0], input[0]);
  assert.deepEqual(t.violation, { kind: 'bare-lf', offset: 'Subject: x\r\n\r\nbody'.length });
  assert.equal(events, 1);
});

test('BareNewlineGuardTransform: clean stream, and trailing CR caught at flush', async () => {
  const clean = new BareNewlineGuardTransform();
  await pipeline(Readable.from([Buffer.from(CLEAN)]), clean, new Writable({ write: (_c, _e, cb) => cb() }));
  assert.equal(clean.violation, null);

  const trailing = new BareNewlineGuardTransform();
  await pipeline(Readable.from([Buffer.from('a\r\nb\r')]), trailing, new Writable({ write: (_c, _e, cb) => cb() }));
  assert.deepEqual(trailing.violation, { kind: 'bare-cr', offset: 4 });
});

test('normalizeBareLf: LF-only line ends become CRLF, CRLF stays, a buffer without bare LF is returned as is', async () => {
  const { normalizeBareLf } = await import('../../src/smtp/bare-newline-guard.ts');
  assert.equal(normalizeBareLf(Buffer.from('a\nb\r\n\nc\n.\n')).toString(), 'a\r\nb\r\n\r\nc\r\n.\r\n');
  assert.equal(normalizeBareLf(Buffer.from('\n')).toString(), '\r\n');
  const clean = Buffer.from('a\r\nb\r\n');
  assert.equal(normalizeBareLf(clean), clean);
});
