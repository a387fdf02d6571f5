// Pathological MIME of issue 12 costs time linear in its size, or is cut off at a
// documented limit (src/pipeline/mime/postal-mime.ts). Before the fix, the folded
// Subject took postal-mime 12-30 s and the empty boundaries 25-40 s of CPU, while every
// other session of the worker waited. The bounds are generous for a loaded two-core
// machine, and far below those figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import PostalMime, { MAX_MIME_PARTS } from '../../src/pipeline/mime/postal-mime.ts';
import { mailauthHeaderParserLinear, originalParseHeaders, parseHeadersLinear } from '../../src/pipeline/verify/mailauth-header-parser.ts';
import { parseFields } from '../../src/pipeline/encrypt/mime-parts.ts';
import { emptyBoundaries, foldedSubject, PLAIN_HEAD } from '../helpers/pathological-mime.ts';

const head = PLAIN_HEAD;
const REPO = resolve(import.meta.dirname, '../..');

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: Error }> {
  const t0 = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error: error as Error };
  }
}

test('a Subject folded into 40,000 lines parses in well under 2 s, unfolded as postal-mime unfolds it', async () => {
  const r = await timed(() => PostalMime.parse(foldedSubject(40_000)));
  assert.ok(!r.error, `parse failed: ${r.error?.message}`);
  assert.ok(r.ms < 2000, `took ${r.ms.toFixed(0)} ms`);
  const subject = r.value!.subject ?? '';
  assert.ok(subject.startsWith('start w0abcdefghijklm w1abcdefghijklm'), `subject starts ${subject.slice(0, 60)}`);
  assert.ok(subject.endsWith('w39999abcdefghijklm'), `subject ends ${subject.slice(-40)}`);
  assert.equal(subject.split(' ').length, 40_001, 'every folded word is in the subject');
  // The raw line keeps its line breaks (postal-mime joins continuation lines with "\n").
  const raw = r.value!.headerLines.find((h) => h.key === 'subject');
  assert.ok(raw?.line.startsWith('Subject: start\n w0abcdefghijklm\n w1'), `raw subject line ${raw?.line.slice(0, 40)}`);
  // The header after the folded one is still its own header.
  assert.equal(r.value!.headers.find((h) => h.key === 'content-type')?.value, 'text/plain', 'Content-Type after the fold');
});

test('folding is the same as postal-mime\'s own: a first line starting with white space, tabs, several headers', async () => {
  const raw = Buffer.from(' stray\r\nX-A: one\r\n\ttwo\r\n three\r\nX-B: b\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n =?utf-8?q?_au_lait?=\r\n\r\nbody\r\n');
  const email = await PostalMime.parse(raw);
  assert.deepEqual(
    email.headerLines.map((h) => h.line),
    [' stray', 'X-A: one\n\ttwo\n three', 'X-B: b', 'Subject: =?utf-8?q?caf=C3=A9?=\n =?utf-8?q?_au_lait?='],
    'raw header lines',
  );
  assert.equal(email.headers.find((h) => h.key === 'x-a')?.value, 'one two three', 'X-A unfolded');
  assert.equal(email.subject, 'café au lait', 'encoded words across a fold');
  assert.equal(email.text, 'body\n', 'body');
});

test(`20,000 empty MIME parts are refused at ${MAX_MIME_PARTS} parts, in well under 2 s`, async () => {
  const r = await timed(() => PostalMime.parse(emptyBoundaries(20_000)));
  assert.ok(r.error, 'the parse is refused');
  assert.match(r.error.message, /Maximum of \d+ MIME parts exceeded/);
  assert.ok(r.ms < 2000, `took ${r.ms.toFixed(0)} ms`);
});

test('a message at the parts limit parses, every part in order, in well under 2 s', async () => {
  const n = MAX_MIME_PARTS - 1; // the multipart itself is a part too
  const parts = Array.from({ length: n }, (_, i) => `--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="f${i}.bin"\r\n\r\n${i}\r\n`).join('');
  const raw = Buffer.from(`${head}Subject: many\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n${parts}--B--\r\n`);
  const r = await timed(() => PostalMime.parse(raw));
  assert.ok(!r.error, `parse failed: ${r.error?.message}`);
  assert.ok(r.ms < 2000, `took ${r.ms.toFixed(0)} ms`);
  const files = r.value!.attachments;
  assert.equal(files.length, n, 'every part is an attachment');
  assert.equal(files[1234]?.filename, 'f1234.bin', 'in order');
  assert.equal(Buffer.from(files[1234]!.content as ArrayBuffer).toString(), '1234\n', 'with its content');
});

test('nested multiparts and an embedded message still parse (the finished-children count is per node)', async () => {
  const raw = Buffer.from(
    [
      head + 'Subject: nested',
      'Content-Type: multipart/mixed; boundary="outer"',
      '',
      '--outer',
      'Content-Type: multipart/alternative; boundary="inner"',
      '',
      '--inner',
      'Content-Type: text/plain',
      '',
      'plain',
      '--inner',
      'Content-Type: text/html',
      '',
      '<p>html</p>',
      '--inner--',
      '--outer',
      'Content-Type: message/rfc822',
      'Content-Disposition: attachment',
      '',
      'Subject: inner',
      '',
      'inner body',
      '--outer',
      'Content-Type: application/pdf',
      'Content-Disposition: attachment; filename="a.pdf"',
      '',
      '%PDF-1.4',
      '--outer--',
      '',
    ].join('\r\n'),
  );
  const email = await PostalMime.parse(raw);
  assert.equal(email.text, 'plain\n', 'text part');
  assert.equal(email.html, '<p>html</p>\n', 'html part');
  assert.deepEqual(email.attachments.map((a) => a.mimeType), ['message/rfc822', 'application/pdf'], 'attachments');
});

test('mailauth\'s header parser is the linear one, with the same rows as mailauth\'s own', async () => {
  assert.ok(mailauthHeaderParserLinear, 'replaced before mailauth\'s DKIM parser loaded (this file)');
  // And in the gateway's own module graph and order (a fresh process).
  const script = "await import('./src/gateway.ts'); const m = await import('./src/pipeline/verify/mailauth-header-parser.ts'); process.stdout.write(String(m.mailauthHeaderParserLinear));";
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' });
  assert.equal(out.trim(), 'true', 'replaced before mailauth\'s DKIM parser loaded (gateway)');
  for (const block of [
    'From: a@b.test\r\nSubject: one\r\n two\r\n\tthree\r\nX-Empty:\r\n\r\n',
    ' leading\r\nA: 1\r\nno colon here\r\n  folded\r\nB:2\n bare-lf fold\r\n\r\n\r\n',
    'DKIM-Signature: v=1; a=rsa-sha256; d=x.test;\r\n s=sel; b=abc\r\n =def\r\n',
    '',
  ]) {
    const buf = Buffer.from(block, 'binary');
    const mine = parseHeadersLinear(buf).parsed.map((r) => ({ ...r, line: r.line.toString('binary') }));
    const theirs = originalParseHeaders(buf).parsed.map((r) => ({ ...r, line: r.line.toString('binary') }));
    assert.deepEqual(mine, theirs, JSON.stringify(block));
  }
});

test('header parsing of a Subject folded into 40,000 lines is linear (mailauth\'s parser, our encryption code\'s)', () => {
  const raw = foldedSubject(40_000);
  const head = raw.subarray(0, raw.indexOf('\r\n\r\n') + 2);
  let t0 = performance.now();
  const rows = parseHeadersLinear(head).parsed;
  let ms = performance.now() - t0;
  assert.ok(ms < 1000, `mailauth parseHeaders took ${ms.toFixed(0)} ms`);
  assert.equal(rows.find((r) => r.key === 'subject')?.line.toString('binary').split('\r\n').length, 40_001, 'one Subject row with every line');
  t0 = performance.now();
  const fields = parseFields(head.toString('latin1'));
  ms = performance.now() - t0;
  assert.ok(ms < 1000, `parseFields took ${ms.toFixed(0)} ms`);
  assert.equal(fields.find((f) => f.name === 'Subject')?.value.split(' ').length, 40_001, 'Subject unfolded');
});
