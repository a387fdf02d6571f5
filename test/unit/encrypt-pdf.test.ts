// The password-protected PDF, judged by qpdf and poppler (pdftotext): AES-256, the body
// readable with the password and not without, the attachments embedded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { renderMessagePdf } from '../../src/pipeline/encrypt/pdf-render.ts';
import { buildCoverMail, buildPasswordNotice, generatePdfPassword } from '../../src/pipeline/encrypt/pdf-mail.ts';

const MESSAGE = Buffer.from(
  [
    'From: Alice Example <alice@example.com>',
    'To: Bob <bob@partner.example>',
    'Cc: carol@partner.example',
    'Subject: =?utf-8?q?Vertrag_f=C3=BCr_2027?=',
    'Date: Wed, 02 Dec 2026 14:00:00 +0000',
    'Message-ID: <contract@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Dear Bob, the contract number is HX-4711. Grüße, Alice',
    '--b1',
    'Content-Type: text/csv; name="prices.csv"',
    'Content-Disposition: attachment; filename="prices.csv"',
    '',
    'item,price',
    'widget,12.50',
    '--b1--',
    '',
  ].join('\r\n'),
);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hermes-pdf-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('the PDF', () => {
  const password = generatePdfPassword();
  let file: string;
  before(async () => {
    const { pdf, attachments, subject } = await renderMessagePdf(MESSAGE, { userPassword: password });
    assert.equal(attachments, 1, 'one attachment embedded');
    assert.equal(subject, 'Vertrag für 2027', 'decoded subject');
    file = join(dir, 'message.pdf');
    writeFileSync(file, pdf);
  });

  test('qpdf --show-encryption reports AES-256 (AESv3, revision 5) and no modifying', () => {
    const r = run('qpdf', [`--password=${password}`, '--show-encryption', file]);
    assert.equal(r.status, 0, `qpdf succeeds: ${r.stderr}`);
    // pdfkit writes Adobe's extension level 3 (R5); R6 (PDF 2.0) only changes the password hash.
    assert.match(r.stdout, /^R = 5$/m, `revision 5: ${r.stdout}`);
    assert.match(r.stdout, /^Supplied password is user password$/m, 'opened with the user password');
    assert.match(r.stdout, /^modify anything: not allowed$/m, 'read-only');
    assert.match(r.stdout, /stream encryption method: AESv3/, 'streams AES-256');
    assert.match(r.stdout, /string encryption method: AESv3/, 'strings AES-256');
  });

  test('pdftotext with the password shows headers and body; without it (or a wrong one) fails', () => {
    const good = run('pdftotext', ['-upw', password, file, '-']);
    assert.equal(good.status, 0, `pdftotext succeeds: ${good.stderr}`);
    assert.match(good.stdout, /contract number is HX-4711\. Grüße, Alice/, 'the body');
    assert.match(good.stdout, /Vertrag für 2027/, 'the subject');
    assert.match(good.stdout, /From: Alice Example <alice@example\.com>/, 'the sender');
    assert.match(good.stdout, /Cc: carol@partner\.example/, 'the Cc');
    assert.match(good.stdout, /Attachments: prices\.csv/, 'the attachment list');
    const none = run('pdftotext', [file, '-']);
    assert.notEqual(none.status, 0, 'no password: fails');
    assert.doesNotMatch(none.stdout, /HX-4711/, 'nothing readable');
    const wrong = run('pdftotext', ['-upw', 'wrong-password', file, '-']);
    assert.notEqual(wrong.status, 0, 'wrong password: fails');
  });

  test('the attachment is embedded as a PDF file attachment, byte for byte', () => {
    const list = run('qpdf', [`--password=${password}`, '--list-attachments', file]);
    assert.equal(list.status, 0, `qpdf lists attachments: ${list.stderr}`);
    assert.match(list.stdout, /prices\.csv/, 'named');
    const shown = run('qpdf', [`--password=${password}`, '--show-attachment=prices.csv', file]);
    assert.equal(shown.status, 0, `qpdf extracts it: ${shown.stderr}`);
    assert.match(shown.stdout, /^item,price\r?\nwidget,12\.50\r?\n?$/, `same content: ${JSON.stringify(shown.stdout)}`);
  });
});

test('an HTML-only message is shown as its text', async () => {
  const html = Buffer.from('From: a@example.com\r\nTo: b@example.net\r\nSubject: html\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{}</style></head><body><p>First &amp; para</p><p>Second</p></body></html>\r\n');
  const password = generatePdfPassword();
  const file = join(dir, 'html.pdf');
  writeFileSync(file, (await renderMessagePdf(html, { userPassword: password })).pdf);
  const r = run('pdftotext', ['-upw', password, file, '-']);
  assert.match(r.stdout, /First & para\s+Second/, `text of the HTML: ${r.stdout}`);
  assert.doesNotMatch(r.stdout, /p\{\}/, 'no style text');
});

test('the cover mail keeps the header fields and carries text, HTML and the PDF; the password is not in it', async () => {
  const password = generatePdfPassword();
  const { pdf } = await renderMessagePdf(MESSAGE, { userPassword: password });
  const cover = await buildCoverMail({ original: MESSAGE, pdf, subject: 'Vertrag für 2027', senderAddress: 'alice@example.com' });
  const parsed = await PostalMime.parse(cover);
  assert.equal(parsed.subject, 'Vertrag für 2027', 'subject kept');
  assert.equal(parsed.messageId, '<contract@example.com>', 'Message-ID kept');
  assert.deepEqual(parsed.cc?.map((a) => a.address), ['carol@partner.example'], 'Cc kept');
  assert.match(parsed.text ?? '', /password-protected PDF/, 'text part');
  assert.match(parsed.html ?? '', /password-protected PDF/, 'html part');
  assert.equal(parsed.attachments.length, 1, 'one attachment');
  assert.equal(parsed.attachments[0]!.mimeType, 'application/pdf', 'the PDF');
  assert.deepEqual(Buffer.from(parsed.attachments[0]!.content as ArrayBuffer), pdf, 'byte for byte');
  assert.ok(!cover.includes(password), 'no password in the cover mail');
  assert.ok(!cover.includes('HX-4711'), 'no clear text of the message');
});

test('the password notice gives the sender the password, threaded to the message', async () => {
  const notice = await buildPasswordNotice({ from: 'postmaster@mx.example.com', to: 'alice@example.com', recipients: ['bob@partner.example'], subject: 'Vertrag für 2027', password: 'abcde-fghjk-mnpqr-stuvw', messageId: '<contract@example.com>' });
  const parsed = await PostalMime.parse(notice);
  assert.match(parsed.text ?? '', /Password: abcde-fghjk-mnpqr-stuvw/, 'password in the text');
  assert.match(parsed.html ?? '', /abcde-fghjk-mnpqr-stuvw/, 'and in the HTML');
  assert.equal(parsed.inReplyTo, '<contract@example.com>', 'threaded');
  assert.ok(parsed.headers.some((h) => h.key === 'auto-submitted' && h.value === 'auto-generated'), 'Auto-Submitted');
});

test('passwords are four groups of five unambiguous characters and differ', () => {
  const a = generatePdfPassword();
  assert.match(a, /^[a-hjkmnp-z2-9]{5}(-[a-hjkmnp-z2-9]{5}){3}$/, a);
  assert.notEqual(a, generatePdfPassword(), 'random');
});
