// The zip reader looks inside hostile archives: it must read what real zip tools write,
// stop zip bombs at its caps instead of expanding them, and survive damaged or crafted
// archives without throwing (a crash would let the message skip the checks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listZip, readZipEntry } from '../../src/pipeline/filter/attachments/zip.ts';
import { inspectEmail, DEFAULT_INSPECT_LIMITS } from '../../src/pipeline/filter/attachments/inspect.ts';
import type { Email } from 'postal-mime';
import { EICAR_FILE, makeZip, peExecutable } from '../helpers/attachments.ts';

const budget = () => ({ remaining: 64 * 1024 * 1024 });

/** The files of a single attachment, as the attachment stage would see them. */
function inspectAttachment(filename: string, content: Buffer, limits = DEFAULT_INSPECT_LIMITS) {
  const email = { headers: [], attachments: [{ filename, mimeType: 'application/zip', disposition: 'attachment', content }] } as unknown as Email;
  return inspectEmail(email, limits);
}

test('zip: stored and deflated members are listed and read back', async () => {
  const text = 'quarterly figures\n'.repeat(200);
  const zip = makeZip([
    { name: 'docs/', data: '', method: 'store' },
    { name: 'docs/figures.csv', data: text },
    { name: 'readme.txt', data: 'plain', method: 'store' },
  ]);
  const listing = listZip(zip);
  assert.ok(listing);
  assert.equal(listing.corrupt, false);
  assert.deepEqual(listing.entries.map((e) => e.name), ['docs/', 'docs/figures.csv', 'readme.txt']);
  assert.equal(listing.entries[0]!.isDirectory, true);
  const csv = await readZipEntry(zip, listing.entries[1]!, 1 << 20, budget());
  assert.equal(Buffer.isBuffer(csv) && csv.toString(), text);
  const readme = await readZipEntry(zip, listing.entries[2]!, 1 << 20, budget());
  assert.equal(Buffer.isBuffer(readme) && readme.toString(), 'plain');
});

test('zip: archives written by a real zip tool (Python zipfile) are read, including zip64 records', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-zip-'));
  try {
    const out = join(dir, 'a.zip');
    const script = [
      'import sys, zipfile',
      'with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:',
      '    z.writestr("report.pdf.exe", b"MZ" + b"\\0" * 200)',
      '    z.writestr("notes/Ünïcode.txt", "hello " * 100)',
      '    with z.open("big.bin", "w", force_zip64=True) as f: f.write(b"x" * 1000)',
    ].join('\n');
    execFileSync('/usr/bin/python3', ['-c', script, out]);
    const zip = readFileSync(out);
    const listing = listZip(zip);
    assert.ok(listing);
    assert.deepEqual(listing.entries.map((e) => e.name), ['report.pdf.exe', 'notes/Ünïcode.txt', 'big.bin']);
    const big = await readZipEntry(zip, listing.entries[2]!, 1 << 20, budget());
    assert.ok(Buffer.isBuffer(big) && big.length === 1000 && big.every((c) => c === 0x78));
    const exe = await readZipEntry(zip, listing.entries[0]!, 1 << 20, budget());
    assert.ok(Buffer.isBuffer(exe) && exe.subarray(0, 2).toString() === 'MZ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('zip: a zip bomb stops at the cap, whatever size the archive claims', async () => {
  // 64 MiB of zeros deflate to about 64 KiB; the archive claims 100 bytes.
  const bomb = makeZip([{ name: 'zeros.bin', data: Buffer.alloc(64 * 1024 * 1024), claimedSize: 100 }]);
  assert.ok(bomb.length < 200 * 1024);
  const listing = listZip(bomb)!;
  const b = budget();
  const started = process.memoryUsage().arrayBuffers;
  assert.equal(await readZipEntry(bomb, listing.entries[0]!, 1024 * 1024, b), 'too-large');
  assert.equal(b.remaining, 64 * 1024 * 1024, 'nothing was counted as read');
  assert.ok(process.memoryUsage().arrayBuffers - started < 48 * 1024 * 1024, 'the member was not expanded in memory');
  // Honest size claims are refused before inflating at all.
  const honest = makeZip([{ name: 'zeros.bin', data: Buffer.alloc(4 * 1024 * 1024) }]);
  assert.equal(await readZipEntry(honest, listZip(honest)!.entries[0]!, 1024 * 1024, budget()), 'too-large');
  // The budget is shared across members: two members of 600 KiB under a 1 MiB budget.
  const two = makeZip([
    { name: 'a', data: Buffer.alloc(600 * 1024, 1) },
    { name: 'b', data: Buffer.alloc(600 * 1024, 2) },
  ]);
  const shared = { remaining: 1024 * 1024 };
  const [a, c] = listZip(two)!.entries;
  assert.ok(Buffer.isBuffer(await readZipEntry(two, a!, 1 << 20, shared)));
  assert.equal(await readZipEntry(two, c!, 1 << 20, shared), 'too-large');
});

test('zip: nested archives are opened two levels deep, and the third level is reported', async () => {
  const level3 = makeZip([{ name: 'deepest.exe', data: peExecutable() }]);
  const level2 = makeZip([{ name: 'inner.exe', data: peExecutable() }, { name: 'level3.zip', data: level3 }]);
  const level1 = makeZip([{ name: 'level2.zip', data: level2 }]);
  const { files } = await inspectAttachment('outer.zip', level1);
  const paths = files.map((f) => f.path);
  assert.deepEqual(paths, ['outer.zip', 'outer.zip/level2.zip', 'outer.zip/level2.zip/inner.exe', 'outer.zip/level2.zip/level3.zip']);
  assert.equal(files[2]!.detected?.kind, 'pe', 'content of a member two levels down is checked');
  assert.deepEqual(files[3]!.conditions, ['too-deep']);
  assert.ok(files[1]!.conditions.includes('too-deep'), 'the archive holding it says so too');
});

test('zip: EICAR is found inside archives, nested ones included', async () => {
  const inner = makeZip([{ name: 'eicar.com', data: EICAR_FILE, method: 'store' }]);
  const outer = makeZip([{ name: 'readme.txt', data: 'hello' }, { name: 'inner.zip', data: inner }]);
  const { eicar } = await inspectAttachment('bundle.zip', outer);
  assert.deepEqual(eicar, ['bundle.zip/inner.zip/eicar.com']);
});

test('zip: encrypted members are named but not opened; office documents are not taken apart', async () => {
  const enc = makeZip([{ name: 'secret.exe', data: 'garbage-ciphertext', method: 'store', encrypted: true }]);
  const { files } = await inspectAttachment('locked.zip', enc);
  assert.equal(files[1]!.name, 'secret.exe');
  assert.equal(files[1]!.detected, null);
  assert.deepEqual(files[0]!.conditions, ['encrypted']);
  const docx = makeZip([
    { name: '[Content_Types].xml', data: '<Types/>' },
    { name: 'word/document.xml', data: '<w:document/>' },
    { name: 'word/vbaProject.bin', data: 'vba' },
  ]);
  const doc = await inspectAttachment('letter.docm', docx);
  assert.equal(doc.files.length, 1, 'the parts of a document are not files of the message');
  assert.equal(doc.files[0]!.detected?.kind, 'ooxml');
  assert.equal(doc.files[0]!.detected?.macros, true);
});

test('zip: an archive glued behind a program (self-extractor) is still read', async () => {
  const sfx = makeZip([{ name: 'payload.exe', data: peExecutable() }], { prefix: peExecutable(4000) });
  const listing = listZip(sfx);
  assert.ok(listing);
  const data = await readZipEntry(sfx, listing.entries[0]!, 1 << 20, budget());
  assert.ok(Buffer.isBuffer(data) && data.subarray(0, 2).toString() === 'MZ');
});

test('zip: damaged archives never throw; names are still found from local headers', async () => {
  const good = makeZip([
    { name: 'invoice.pdf.exe', data: peExecutable() },
    { name: 'other.txt', data: 'x'.repeat(1000) },
  ]);
  // Cut before the central directory: names come from the local headers.
  const truncated = good.subarray(0, good.length - 60);
  const listing = listZip(truncated);
  assert.ok(listing);
  assert.equal(listing.corrupt, true);
  assert.ok(listing.entries.some((e) => e.name === 'invoice.pdf.exe'));
  const files = (await inspectAttachment('cut.zip', truncated)).files;
  assert.ok(files.some((f) => f.name === 'invoice.pdf.exe' && f.detected?.kind === 'pe'), 'the member is still read and recognised');
  assert.ok(files[0]!.conditions.includes('corrupt'));

  // Deflate data replaced by garbage: the member is unreadable, nothing throws.
  const garbled = Buffer.from(good);
  garbled.fill(0xff, 60, 120);
  const g = await inspectAttachment('garbled.zip', garbled);
  assert.ok(g.files[0]!.conditions.includes('corrupt'));

  // Not a zip at all, though it starts like one.
  assert.equal(listZip(Buffer.from('PK\x03\x04', 'latin1')), null);
  const fake = await inspectAttachment('fake.zip', Buffer.from('PK\x03\x04 this is not really a zip', 'latin1'));
  assert.deepEqual(fake.files[0]!.conditions, ['corrupt']);

  // Random damage anywhere: every variant is handled.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 300; i++) {
    const z = Buffer.from(good);
    for (let k = 0; k < 1 + Math.floor(rnd() * 8); k++) z[Math.floor(rnd() * z.length)] = Math.floor(rnd() * 256);
    const cut = rnd() < 0.3 ? z.subarray(0, Math.floor(rnd() * z.length)) : z;
    await inspectAttachment('fuzz.zip', cut);
  }
});

test('zip: member and entry limits hold for archives with very many members', async () => {
  const many = makeZip(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}.txt`, data: 'x', method: 'store' as const })));
  const { files } = await inspectAttachment('many.zip', many, { ...DEFAULT_INSPECT_LIMITS, maxMembers: 10 });
  assert.equal(files.length, 1 + 10);
  assert.ok(files[0]!.conditions.includes('too-many'));
});

test('zip: a member whose header names it differently from the directory is listed under both names', async () => {
  const zip = makeZip([{ name: 'report.txt', data: peExecutable() }]);
  // Same length, so offsets stay valid: only the local header's copy of the name changes.
  const local = zip.indexOf('report.txt');
  zip.write('report.exe', local, 'latin1');
  const { files } = await inspectAttachment('mixed.zip', zip);
  assert.deepEqual(files.map((f) => f.path).sort(), ['mixed.zip', 'mixed.zip/report.exe', 'mixed.zip/report.txt']);
  assert.ok(files[0]!.conditions.includes('corrupt'));
  // A directory that claims no members, in front of real ones: the members are found.
  const hidden = makeZip([{ name: 'payload.exe', data: peExecutable() }]);
  const eocd = hidden.length - 22;
  hidden.writeUInt16LE(0, eocd + 8);
  hidden.writeUInt16LE(0, eocd + 10);
  assert.deepEqual((await inspectAttachment('empty.zip', hidden)).files.map((f) => f.path), ['empty.zip', 'empty.zip/payload.exe']);
});
