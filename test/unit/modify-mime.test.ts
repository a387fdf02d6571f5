// The MIME walker and part editor: what goes where, in which charset and transfer
// encoding, what is never touched (attachments, signed and encrypted content), and
// that a quoted disclaimer is not added twice. Results are read back with postal-mime,
// a parser we did not write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import { changeBodies } from '../../src/pipeline/modify/mime-walk.ts';
import type { Insertion } from '../../src/pipeline/modify/insertion.ts';
import { htmlBottomIndex, htmlTopIndex } from '../../src/pipeline/modify/insertion-points.ts';
import { rawParts } from '../helpers/mime-parts.ts';

const CRLF = '\r\n';
const lines = (...l: string[]) => l.join(CRLF);

function disclaimer(text = 'This message is confidential.', html = '<p>This message is <b>confidential</b>.</p>'): Insertion {
  return { kind: 'disclaimer', position: 'bottom', text, html: `<div class="hermes-disclaimer hermes-disclaimer-legal">${html}</div>`, images: [], presence: { text, marker: 'hermes-disclaimer-legal' } };
}
function banner(text = 'External sender: be careful.', html = '<p>External sender: be careful.</p>'): Insertion {
  return { kind: 'banner', position: 'top', text, html: `<div class="hermes-banner">${html}</div>`, images: [] };
}

const PDF = Buffer.from('%PDF-1.4\n' + 'x'.repeat(300) + '\n%%EOF\n');
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

function alternativeWithAttachments(): Buffer {
  const html = '<html><head><title>t</title></head><body style="margin:0" data-x="a>b"><p>Hello Bob</p></body></html>';
  return Buffer.from(
    lines(
      'From: Alice <alice@local.test>',
      'To: bob@remote.test',
      'Subject: report',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="mix"',
      '',
      '--mix',
      'Content-Type: multipart/alternative; boundary="alt"',
      '',
      '--alt',
      'Content-Type: text/plain; charset=ISO-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Gr=FC=DFe aus K=F6ln',
      '--alt',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from(html).toString('base64').replace(/(.{76})/g, `$1${CRLF}`),
      '--alt--',
      '',
      '--mix',
      'Content-Type: application/pdf; name="r.pdf"',
      'Content-Disposition: attachment; filename="r.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      PDF.toString('base64').replace(/(.{76})/g, `$1${CRLF}`),
      '--mix',
      'Content-Type: image/png',
      'Content-Disposition: inline; filename="p.png"',
      'Content-Transfer-Encoding: base64',
      '',
      PNG.toString('base64'),
      '--mix--',
      '',
    ),
    'latin1',
  );
}

test('multipart/alternative in multipart/mixed: the disclaimer goes into both body parts, attachments stay byte-identical', async () => {
  const msg = alternativeWithAttachments();
  const r = await changeBodies(msg, [disclaimer('Vertraulich: nur für Bob.', '<p>Vertraulich: nur f&uuml;r Bob.</p>')]);
  assert.equal(r.protected, null);
  assert.equal(r.changed, true);
  assert.deepEqual(
    r.parts.map((p) => [p.part, p.contentType, p.applied]),
    [
      ['1.1', 'text/plain', ['disclaimer']],
      ['1.2', 'text/html', ['disclaimer']],
    ],
  );
  const parsed = await PostalMime.parse(r.message);
  // ISO-8859-1 can carry "ü": the part stays ISO-8859-1 and quoted-printable.
  assert.equal(parsed.text!.trim(), 'Grüße aus Köln\r\n\r\nVertraulich: nur für Bob.'.replace(/\r\n/g, '\n'));
  assert.match(r.message.toString('latin1'), /Content-Type: text\/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln/);
  // HTML: before </body>, after the original content; the attribute with ">" did not fool the tag scan.
  assert.match(parsed.html!, /<body style="margin:0" data-x="a>b"><p>Hello Bob<\/p><div class="hermes-disclaimer hermes-disclaimer-legal"><p>Vertraulich: nur f&uuml;r Bob.<\/p><\/div><\/body><\/html>$/);
  // base64 stays base64, in lines of at most 76 characters.
  const htmlRaw = (await rawParts(r.message)).get('1.2')!.toString('latin1');
  assert.match(htmlRaw, /^Content-Type: text\/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n/);
  for (const l of htmlRaw.split('\r\n\r\n')[1]!.split('\r\n')) assert.ok(l.length <= 76 && /^[A-Za-z0-9+/=]*$/.test(l), l);
  // Attachments: the same bytes, headers and body.
  const before = await rawParts(msg);
  const after = await rawParts(r.message);
  assert.ok(after.get('2')!.equals(before.get('2')!), 'PDF part byte-identical');
  assert.ok(after.get('3')!.equals(before.get('3')!), 'inline image part byte-identical');
  assert.deepEqual(Buffer.from(parsed.attachments[0]!.content as ArrayBuffer), PDF);
  // Everything outside the two body parts is the same bytes, in the same order.
  const text = r.message.toString('latin1');
  assert.ok(text.startsWith(msg.toString('latin1').slice(0, msg.toString('latin1').indexOf('--alt'))));
  assert.ok(text.endsWith(msg.toString('latin1').slice(msg.toString('latin1').indexOf('--alt--'))));
});

test('an ISO-8859-1 text part that cannot carry the disclaimer (€) is converted to UTF-8, declared so, with the sender text intact', async () => {
  const msg = Buffer.from(lines('From: a@local.test', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: 8bit', '', 'Preis: 10 Mark f\xfcr \xc4pfel', ''), 'latin1');
  const r = await changeBodies(msg, [disclaimer('Kosten in €.')]);
  assert.equal(r.parts[0]!.charset, 'utf-8');
  const raw = r.message.toString('latin1');
  assert.match(raw, /Content-Type: text\/plain; charset=utf-8/);
  const parsed = await PostalMime.parse(r.message);
  assert.equal(parsed.text, 'Preis: 10 Mark für Äpfel\n\nKosten in €.\n');
});

test('a 7bit ASCII part that gets non-ASCII text becomes quoted-printable (the header is added next to Content-Type)', async () => {
  const msg = Buffer.from(lines('From: a@local.test', 'Subject: s', 'Content-Type: text/plain; charset=utf-8', '', 'plain ascii', ''));
  const r = await changeBodies(msg, [disclaimer('Grüße')]);
  const raw = r.message.toString('latin1');
  assert.match(raw, /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nplain ascii\r\n\r\nGr=C3=BC=C3=9Fe\r\n$/);
  assert.equal((await PostalMime.parse(r.message)).text, 'plain ascii\n\nGrüße\n');
});

test('banner on top of plain text and right after <body>; disclaimer and banner together', async () => {
  const msg = Buffer.from(
    lines('From: x@ext.test', 'Content-Type: multipart/alternative; boundary=b', '', '--b', 'Content-Type: text/plain', '', 'hi', '--b', 'Content-Type: text/html', '', '<HTML><BODY BGCOLOR=white>hi</BODY></HTML>', '--b--', ''),
  );
  const r = await changeBodies(msg, [banner(), disclaimer()]);
  const parsed = await PostalMime.parse(r.message);
  assert.equal(parsed.text, 'External sender: be careful.\n\nhi\n\nThis message is confidential.\n');
  assert.equal(parsed.html!.trimEnd(), '<HTML><BODY BGCOLOR=white><div class="hermes-banner"><p>External sender: be careful.</p></div>hi<div class="hermes-disclaimer hermes-disclaimer-legal"><p>This message is <b>confidential</b>.</p></div></BODY></HTML>');
});

test('HTML without <body>: banner after </head> or at the start, disclaimer before </html> or at the end', () => {
  assert.equal(htmlTopIndex('<html><head></head>x</html>'), '<html><head></head>'.length);
  assert.equal(htmlTopIndex('<p>x</p>'), 0);
  assert.equal(htmlBottomIndex('<html>x</html>\r\n'), '<html>x'.length);
  assert.equal(htmlBottomIndex('<p>x</p>\r\n'), '<p>x</p>'.length);
  assert.equal(htmlBottomIndex('<body>a</body><body>b</body>'), '<body>a</body><body>b'.length);
});

test('a reply quoting the disclaimer (plain with "> ", HTML with the marker) does not get it again', async () => {
  const first = await changeBodies(alternativeWithAttachments(), [disclaimer()]);
  const again = await changeBodies(first.message, [disclaimer()]);
  assert.equal(again.changed, false);
  assert.deepEqual(again.parts.map((p) => p.present), [['disclaimer'], ['disclaimer']]);
  const quoted = Buffer.from(lines('From: a@local.test', 'Content-Type: text/plain', '', 'Thanks!', '', '> earlier text', '>', '> This message is', '> confidential.', ''));
  const r = await changeBodies(quoted, [disclaimer()]);
  assert.equal(r.changed, false);
  assert.deepEqual(r.parts[0]!.present, ['disclaimer']);
});

test('signed or encrypted content is never changed, and the reason names it', async () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    [
      'S/MIME multipart/signed',
      Buffer.from(lines('From: a@b', 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary=s', '', '--s', 'Content-Type: text/plain', '', 'signed text', '--s', 'Content-Type: application/pkcs7-signature; name=smime.p7s', 'Content-Transfer-Encoding: base64', '', 'MIAGCSqGSIb3DQEHAqCAMIACAQEx', '--s--', '')),
      /S\/MIME signed content \(multipart\/signed\) in part TEXT/,
    ],
    ['S/MIME enveloped', Buffer.from(lines('From: a@b', 'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m', 'Content-Transfer-Encoding: base64', '', 'MIAGCSqGSIb3DQEHA6CAMIACAQAx', '')), /S\/MIME encrypted/],
    [
      'PGP/MIME encrypted',
      Buffer.from(lines('From: a@b', 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=e', '', '--e', 'Content-Type: application/pgp-encrypted', '', 'Version: 1', '--e', 'Content-Type: application/octet-stream', '', '-----BEGIN PGP MESSAGE-----', 'hQEMA', '-----END PGP MESSAGE-----', '--e--', '')),
      /PGP\/MIME encrypted/,
    ],
    ['inline PGP signed', Buffer.from(lines('From: a@b', 'Content-Type: text/plain', '', '-----BEGIN PGP SIGNED MESSAGE-----', 'Hash: SHA256', '', 'hello', '-----BEGIN PGP SIGNATURE-----', 'iQE', '-----END PGP SIGNATURE-----', '')), /inline PGP signed text/],
    [
      'signed part inside mixed',
      Buffer.from(lines('From: a@b', 'Content-Type: multipart/mixed; boundary=m', '', '--m', 'Content-Type: text/plain', '', 'list footer first', '--m', 'Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary=s', '', '--s', 'Content-Type: text/plain', '', 'x', '--s', 'Content-Type: application/pgp-signature', '', 'sig', '--s--', '--m--', '')),
      /PGP\/MIME signed content/,
    ],
  ];
  for (const [name, msg, why] of cases) {
    const r = await changeBodies(msg, [banner(), disclaimer()]);
    assert.match(r.protected ?? '', why, name);
  }
});

test('inline images: an HTML part is wrapped in multipart/related with the image as a CID part; inside an existing related they join it', async () => {
  const sig: Insertion = {
    kind: 'signature',
    position: 'bottom',
    text: '-- \nAlice',
    html: '<div class="hermes-signature"><img src="cid:logo.1@hermes" alt="logo"> Alice</div>',
    images: [{ contentId: 'logo.1@hermes', contentType: 'image/png', filename: 'logo.png', data: PNG }],
  };
  const single = Buffer.from(lines('From: a@local.test', 'Subject: s', 'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', '', '<p>Hi</p>', ''));
  const r1 = await changeBodies(single, [sig]);
  const p1 = await PostalMime.parse(r1.message);
  assert.match(r1.message.toString(), /^From: a@local\.test\r\nSubject: s\r\nMIME-Version: 1\.0\r\nContent-Type: multipart\/related; type="text\/html";/);
  assert.equal(p1.html!.trimEnd(), '<p>Hi</p><div class="hermes-signature"><img src="cid:logo.1@hermes" alt="logo"> Alice</div>');
  assert.equal(p1.attachments.length, 1);
  assert.equal(p1.attachments[0]!.contentId, '<logo.1@hermes>');
  assert.deepEqual(Buffer.from(p1.attachments[0]!.content as ArrayBuffer), PNG);

  const related = Buffer.from(
    lines('From: a@local.test', 'Content-Type: multipart/related; boundary=r', '', '--r', 'Content-Type: text/html', '', '<body><img src="cid:pic@x">Hi</body>', '--r', 'Content-Type: image/png', 'Content-ID: <pic@x>', 'Content-Transfer-Encoding: base64', '', PNG.toString('base64'), '--r--', ''),
  );
  const r2 = await changeBodies(related, [sig]);
  const raw2 = r2.message.toString();
  assert.equal((raw2.match(/multipart\/related/g) ?? []).length, 1, 'no nested related');
  const p2 = await PostalMime.parse(r2.message);
  assert.deepEqual(p2.attachments.map((a) => a.contentId).sort(), ['<logo.1@hermes>', '<pic@x>']);
  assert.match(p2.html!.trimEnd(), /Hi<div class="hermes-signature">.*<\/div><\/body>$/);
});

test('only the main body: a text attachment, a second inline text part and a forwarded message stay as they are', async () => {
  const fwd = lines('From: old@x.test', 'Subject: old', 'Content-Type: text/plain', '', 'forwarded body');
  const msg = Buffer.from(
    lines('From: a@local.test', 'Content-Type: multipart/mixed; boundary=m', '', '--m', 'Content-Type: text/plain', '', 'main', '--m', 'Content-Type: text/plain', 'Content-Disposition: attachment; filename=a.txt', '', 'attached text', '--m', 'Content-Type: text/plain', '', 'second inline', '--m', 'Content-Type: message/rfc822', '', fwd, '--m--', ''),
  );
  const r = await changeBodies(msg, [disclaimer()]);
  assert.deepEqual(r.parts.map((p) => p.part), ['1']);
  const before = await rawParts(msg);
  const after = await rawParts(r.message);
  for (const k of ['2', '3', '4']) assert.ok(after.get(k)!.equals(before.get(k)!), `part ${k} unchanged`);
});

test('UTF-16 is decoded and re-encoded in UTF-16; 8-bit text in an undeclared charset only takes ASCII', async () => {
  const body = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Hallo Welt\r\n', 'utf16le')]);
  const msg = Buffer.concat([Buffer.from(lines('From: a@b', 'Content-Type: text/plain; charset=utf-16', 'Content-Transfer-Encoding: base64', '', body.toString('base64'), ''))]);
  const r = await changeBodies(msg, [disclaimer('Grüße')]);
  assert.equal(r.changed, true);
  assert.equal((await PostalMime.parse(r.message)).text!.replace(/\r\n/g, '\n'), 'Hallo Welt\n\nGrüße\n');
  assert.match(r.message.toString(), /charset=utf-16\r\nContent-Transfer-Encoding: base64/);

  const undeclared = Buffer.from(lines('From: a@b', 'Content-Type: text/plain', 'Content-Transfer-Encoding: 8bit', '', 'caf\xe9', ''), 'latin1');
  const ascii = await changeBodies(undeclared, [disclaimer('ascii only')]);
  assert.ok(ascii.message.includes(Buffer.from('caf\xe9\r\n\r\nascii only\r\n', 'latin1')));
  const non = await changeBodies(undeclared, [disclaimer('Grüße')]);
  assert.equal(non.changed, false);
  assert.match(non.parts[0]!.skipped!, /undeclared charset/);
});

test('format=flowed text: added lines do not end in a space (except "-- ") and are space-stuffed where needed', async () => {
  const msg = Buffer.from(lines('From: a@local.test', 'Content-Type: text/plain; charset=utf-8; format=flowed', '', 'A long line that =', 'flows on.', ''));
  const r = await changeBodies(msg, [disclaimer('-- \nAlice  \n> not a quote\nFrom here on')]);
  assert.ok(r.message.toString().endsWith('A long line that =\r\nflows on.\r\n\r\n-- \r\nAlice\r\n > not a quote\r\n From here on\r\n'), JSON.stringify(r.message.toString()));
  assert.match(r.message.toString(), /format=flowed/);
});
