// Banned attachments as an admin sees them: the default rule set on real MIME messages
// (what is refused and why, what goes through), rule sets edited in the database and
// picked up by a running gateway, and the attachment stage's findings per rule set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../src/db/migrate.ts';
import { configSerial } from '../../src/config/settings.ts';
import { addFileRule, createFileRuleSet, deleteFileRuleSet, getFileRuleSet, removeFileRule, resetDefaultFileRuleSet } from '../../src/db/repos/file-rules.ts';
import { attachmentStage, DEFAULT_FILE_RULE_SET, evaluateFileRuleSet, FileRuleSetStore, messageInspection, normaliseFileRule, type FileRuleSet } from '../../src/pipeline/filter/attachments/index.ts';
import { composeMessage, contextFor, makeZip, peExecutable, type Part } from '../helpers/attachments.ts';
import { openTestDatabase } from '../helpers/temp-db.ts';

const PDF = Buffer.from('%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');

async function bannedBy(set: FileRuleSet, attachments: Part[]) {
  const ctx = contextFor(await composeMessage({ attachments }));
  return evaluateFileRuleSet(set, (await messageInspection(ctx)).files);
}

test('default rules: an executable renamed to .pdf is banned, and the reason says what it really is', async () => {
  const banned = await bannedBy(DEFAULT_FILE_RULE_SET, [{ filename: 'invoice.pdf', content: peExecutable(), contentType: 'application/pdf' }]);
  assert.equal(banned.length, 1);
  assert.equal(banned[0]!.filename, 'invoice.pdf');
  assert.equal(banned[0]!.ruleSet, 'default');
  assert.equal(banned[0]!.rule, 'executable-content');
  assert.equal(banned[0]!.reason, 'named .pdf, declared application/pdf but the content is a Windows executable');
});

test('default rules: double extensions, executable names, disguised names, declared types', async () => {
  const banned = await bannedBy(DEFAULT_FILE_RULE_SET, [
    { filename: 'invoice.pdf.exe', content: 'not really a program' },
    { filename: 'run.vbs', content: 'WScript.Echo 1' },
    { filename: 'photo\u202Egpj.scr', content: 'x' },
    { filename: 'update.bin', content: 'x', contentType: 'application/x-msdownload' },
    { filename: 'install.sh.txt', content: '#!/bin/sh\necho hi\n' },
  ]);
  const by = Object.fromEntries(banned.map((b) => [b.filename, `${b.rule}: ${b.reason}`]));
  assert.equal(by['invoice.pdf.exe'], 'double-extension: double extension .pdf.exe');
  assert.equal(by['run.vbs'], 'executable-extension: extension .vbs');
  assert.match(by['photo\u202Egpj.scr']!, /^disguised-name: .*right-to-left/);
  assert.equal(by['update.bin'], 'executable-declared: declared type application/x-msdownload');
  assert.equal(by['install.sh.txt'], 'executable-content: named .txt, declared text/plain but the content is a script (#!)');
  assert.equal(banned.length, 5);
});

test('default rules: names and contents inside zip archives are judged too', async () => {
  const zip = makeZip([
    { name: 'readme.txt', data: 'hello' },
    { name: 'bin/setup.exe', data: peExecutable() },
    { name: 'scan.pdf', data: peExecutable() },
  ]);
  const banned = await bannedBy(DEFAULT_FILE_RULE_SET, [{ filename: 'docs.zip', content: zip }]);
  assert.deepEqual(
    banned.map((b) => [b.filename, b.rule]),
    [
      ['docs.zip/bin/setup.exe', 'executable-extension'],
      ['docs.zip/scan.pdf', 'executable-content'],
    ],
  );
});

test('default rules: ordinary mail goes through (documents, images, archives of documents, tar.gz)', async () => {
  const docx = makeZip([{ name: '[Content_Types].xml', data: '<Types/>' }, { name: 'word/document.xml', data: '<w/>' }]);
  const banned = await bannedBy(DEFAULT_FILE_RULE_SET, [
    { filename: 'report.pdf', content: PDF },
    { filename: 'letter.docx', content: docx },
    { filename: 'photo.jpg', content: Buffer.from('ffd8ffe000104a464946', 'hex') },
    { filename: 'reports.zip', content: makeZip([{ name: 'q1.pdf', data: PDF }, { name: 'q2.xlsx', data: 'x' }]) },
    { filename: 'backup.tar.gz', content: Buffer.from('1f8b0800', 'hex') },
    { filename: 'setup-2.1.txt', content: 'release notes' },
  ]);
  assert.deepEqual(banned, []);
});

test('rules: the first matching rule decides, so an allow rule in front makes an exception', async () => {
  const set: FileRuleSet = {
    name: 'vendor',
    description: '',
    rules: [
      normaliseFileRule({ name: 'vendor-tool', kind: 'name', values: ['acme-update-*.exe'], action: 'allow', inArchives: true, description: '' }),
      ...DEFAULT_FILE_RULE_SET.rules,
    ],
  };
  const banned = await bannedBy(set, [
    { filename: 'ACME-Update-3.exe', content: peExecutable() },
    { filename: 'other.exe', content: peExecutable() },
  ]);
  assert.deepEqual(banned.map((b) => b.filename), ['other.exe']);
});

test('rules: top-level-only rules, archive conditions and Office macros', async () => {
  const topOnly = normaliseFileRule({ name: 'no-exe', kind: 'extension', values: ['.EXE'], action: 'ban', inArchives: false, description: '' });
  assert.deepEqual(topOnly.values, ['exe'], 'values are put in canonical form');
  const encrypted = normaliseFileRule({ name: 'locked', kind: 'archive', values: ['encrypted'], action: 'ban', inArchives: true, description: '' });
  const macros = normaliseFileRule({ name: 'macros', kind: 'detected-type', values: ['macros'], action: 'ban', inArchives: true, description: '' });
  const set: FileRuleSet = { name: 'custom', description: '', rules: [topOnly, encrypted, macros] };
  const docm = makeZip([{ name: '[Content_Types].xml', data: '<Types/>' }, { name: 'word/vbaProject.bin', data: 'vba' }]);
  const banned = await bannedBy(set, [
    { filename: 'a.exe', content: 'x' },
    { filename: 'b.zip', content: makeZip([{ name: 'inner.exe', data: 'x' }]) },
    { filename: 'c.zip', content: makeZip([{ name: 'secret.txt', data: 'x', method: 'store', encrypted: true }]) },
    { filename: 'd.docm', content: docm },
  ]);
  assert.deepEqual(
    banned.map((b) => `${b.filename}: ${b.reason}`),
    [
      'a.exe: extension .exe',
      'c.zip: archive is password-protected, its contents cannot be checked',
      'd.docm: content is an Office Open XML document with macros',
    ],
  );
});

test('rules: bad rules are refused with a clear error', () => {
  const base = { name: 'r', action: 'ban' as const, inArchives: true, description: '' };
  assert.throws(() => normaliseFileRule({ ...base, kind: 'detected-type', values: ['exe-file'] }), /not a content kind or family/);
  assert.throws(() => normaliseFileRule({ ...base, kind: 'archive', values: ['huge'] }), /not an archive condition/);
  assert.throws(() => normaliseFileRule({ ...base, kind: 'bogus' as never, values: ['x'] }), /unknown rule kind "bogus"/);
  assert.throws(() => normaliseFileRule({ ...base, kind: 'extension', values: [] }), /needs at least one value/);
  assert.throws(() => normaliseFileRule({ ...base, kind: 'declared-type', values: ['exe'] }), /MIME type pattern/);
  assert.throws(() => normaliseFileRule({ ...base, name: 'has space', kind: 'extension', values: ['exe'] }), /rule name/);
});

test('rule sets in the database: shipped default, edits, copies, and a running gateway sees changes at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-filerules-'));
  const db = await openTestDatabase(dir);
  try {
    await migrate(db);
    assert.deepEqual(await getFileRuleSet(db, 'default'), DEFAULT_FILE_RULE_SET, 'the migration ships the default set');
    const store = new FileRuleSetStore({ db, serial: () => serial });
    let serial = await configSerial(db);
    assert.equal((await store.get('default'))!.rules.length, DEFAULT_FILE_RULE_SET.rules.length);

    await createFileRuleSet(db, 'Strict', 'stricter', 'default');
    await addFileRule(db, 'strict', { name: 'macros', kind: 'detected-type', values: ['macros'], action: 'ban', inArchives: true, description: 'no macros' }, { before: 'disguised-name' });
    assert.equal(await store.get('strict'), undefined, 'cached until the configuration serial moves');
    serial = await configSerial(db);
    const strict = (await store.lookup('strict'))!;
    assert.deepEqual(strict.rules.map((r) => r.name).slice(0, 2), ['macros', 'disguised-name']);
    await assert.rejects(addFileRule(db, 'strict', { ...strict.rules[0]! }), /already exists/);
    await addFileRule(db, 'strict', { ...strict.rules[0]!, values: ['macros', 'msi'] }, { replace: true });
    assert.deepEqual((await getFileRuleSet(db, 'strict'))!.rules[0]!.values, ['macros', 'msi'], 'replaced in place');

    await removeFileRule(db, 'default', 'executable-extension');
    assert.ok(!(await getFileRuleSet(db, 'default'))!.rules.some((r) => r.name === 'executable-extension'));
    await resetDefaultFileRuleSet(db);
    assert.deepEqual(await getFileRuleSet(db, 'default'), DEFAULT_FILE_RULE_SET);
    await migrate(db);
    assert.deepEqual(await getFileRuleSet(db, 'default'), DEFAULT_FILE_RULE_SET, 'migrating again changes nothing');

    await assert.rejects(deleteFileRuleSet(db, 'default'), /cannot be deleted/);
    await assert.rejects(removeFileRule(db, 'strict', 'nope'), /no rule "nope"/);
    await assert.rejects(createFileRuleSet(db, 'strict', ''), /already exists/);
    await deleteFileRuleSet(db, 'strict');
    assert.equal(await getFileRuleSet(db, 'strict'), undefined);
    await assert.rejects(deleteFileRuleSet(db, 'strict'), /no file rule set "strict"/);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('attachment stage: findings for each rule set the recipients use, tagged with the set; nothing else changes', async () => {
  const lenient: FileRuleSet = { name: 'lenient', description: '', rules: [normaliseFileRule({ name: 'lnk', kind: 'extension', values: ['lnk'], action: 'ban', inArchives: true, description: '' })] };
  const sets = new Map([
    ['default', DEFAULT_FILE_RULE_SET],
    ['lenient', lenient],
  ]);
  const stage = attachmentStage({ ruleSets: (n) => sets.get(n), ruleSetNames: () => ['default', 'lenient', 'deleted-set'] });
  const raw = await composeMessage({ attachments: [{ filename: 'invoice.pdf', content: peExecutable(), contentType: 'application/pdf' }] });
  const ctx = contextFor(raw);
  await stage.run(ctx);
  assert.deepEqual(
    ctx.findings.banned?.map((b) => [b.ruleSet, b.rule]),
    [
      ['default', 'executable-content'],
      ['deleted-set', 'executable-content'],
    ],
    'the lenient set lets it through; a set that no longer exists gets the default rules',
  );
  assert.equal(ctx.reject, null);
  assert.equal(ctx.body, raw);
  const trace = ctx.events.find(([t]) => t === 'attachments')![1];
  assert.equal(trace.files, 1);
  assert.deepEqual(trace.missingRuleSets, ['deleted-set']);

  const clean = contextFor(await composeMessage({ attachments: [{ filename: 'report.pdf', content: PDF }] }));
  await attachmentStage({ ruleSets: (n) => sets.get(n) }).run(clean);
  assert.deepEqual(clean.findings.banned, []);
});

test('files inside a forwarded message (.eml attachment) are judged too', async () => {
  const inner = await composeMessage({ subject: 'original', attachments: [{ filename: 'invoice.pdf.exe', content: peExecutable() }] });
  const banned = await bannedBy(DEFAULT_FILE_RULE_SET, [{ filename: 'forwarded.eml', content: inner, contentType: 'message/rfc822' }]);
  // postal-mime folds the parts of an attached message into the message's own parts.
  assert.deepEqual(banned.map((b) => [b.filename, b.rule]), [['invoice.pdf.exe', 'double-extension']]);
});

test('a payload pushed below the parser nesting limit (messages in messages, 12 deep) is still found', async () => {
  let raw = await composeMessage({ subject: 'level 0', attachments: [{ filename: 'payload.scr', content: peExecutable() }] });
  for (let level = 1; level < 12; level++) raw = await composeMessage({ subject: `level ${level}`, attachments: [{ filename: `fwd${level}.eml`, content: raw, contentType: 'message/rfc822' }] });
  const banned = await bannedBy(DEFAULT_FILE_RULE_SET, [{ filename: 'fwd12.eml', content: raw, contentType: 'message/rfc822' }]);
  assert.equal(banned.length, 1);
  // postal-mime stops unfolding at 10 levels; the rest is opened by the inspection itself.
  assert.match(banned[0]!.filename, /^fwd\d+\.eml\/payload\.scr$/);
});
