// Body changes end to end, through the real SMTP listener to Postfix's smtp-sink, with
// rules made by the CLI: outbound mail gets the disclaimer before it is DKIM-signed
// (dkimpy verifies the signature at the sink), inbound mail from outside gets the
// external-sender banner while an upstream ARC chain stays valid (dkimpy's arc_verify),
// and an S/MIME-signed message made by openssl passes byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { createTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';
import { queueId, sendMessage } from '../helpers/smtp-probe.ts';
import { arrivedAtSink, messageEvents } from '../helpers/message-trace.ts';
import { findPython, runPythonJson } from '../helpers/authvectors.ts';
import { dkimpyVerify } from '../helpers/dkimpy.ts';
import { addRelayNetwork, upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';
import { dkimDnsName, generateDkimKey, type GeneratedDkimKey } from '../../src/pipeline/sign/dkim-keys.ts';

const python = findPython(['dkim']);
assert.ok(python, 'Python with the dkim module (Debian python3-dkim) is needed: run scripts/install-peers.sh');

// Clients from 127.0.0.2 are in the relay networks (our own servers); 127.0.0.1 is the outside world.
const OUR_SERVER = '127.0.0.2';
const CRLF = '\r\n';

let gw: TestGateway;
let sink: SmtpSink;
let dns: TestDns;
let work: string;
const txt: Record<string, string> = {};
let partnerKey: GeneratedDkimKey;
let listKey: GeneratedDkimKey;

function publish(name: string, value: string) {
  txt[name.toLowerCase()] = value;
  dns.set(name, { TXT: [value] });
}

async function cli(args: string[]): Promise<string> {
  const r = await gw.cli(args);
  assert.equal(r.code, 0, `hermes ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'hermes-body-'));
  sink = await startSmtpSink();
  dns = await startTestDns({});
  [partnerKey, listKey] = await Promise.all([generateDkimKey('rsa-sha256'), generateDkimKey('rsa-sha256')]);
  publish('partner.test', 'v=spf1 -all');
  publish('_dmarc.partner.test', 'v=DMARC1; p=reject');
  publish(dkimDnsName('p1', 'partner.test'), partnerKey.dnsTxt);
  publish(dkimDnsName('arc', 'lists.test'), listKey.dnsTxt);

  gw = await createTestGateway({ dnsServer: dns.server });
  await upsertRelayDomain(gw.db, { domain: 'corp.test', nextHop: `127.0.0.1:${sink.port}` });
  await upsertRelayDomain(gw.db, { domain: 'local.test', nextHop: `127.0.0.1:${sink.port}` });
  await addRelayNetwork(gw.db, `${OUR_SERVER}/32`);
  await setSetting(gw.db, 'delivery.smarthost', `127.0.0.1:${sink.port}`);
  await setSetting(gw.db, 'auth.dnsTimeoutMs', 2000);

  // Keys, templates and rules the way an admin makes them.
  await Promise.all([cli(['dkim', 'generate', 'local.test', '--selector', 's1']), cli(['dkim', 'generate', 'gateway.test', '--selector', 'arc1'])]);
  for (const d of ['local.test', 'gateway.test']) {
    for (const rec of (JSON.parse(await cli(['dkim', 'dns', d, '--json'])) as { publish: Array<{ name: string; value: string }> }).publish) publish(rec.name, rec.value);
  }
  await cli(['arc', 'enable', '--domain', 'gateway.test', '--selector', 'arc1']);
  writeFileSync(join(work, 'legal.html'), '<p style="color:#666">Diese Nachricht ist vertraulich. Ceci est confidentiel.</p>');
  await Promise.all([
    cli(['disclaimer', 'template', 'set', 'legal', '--text', 'Diese Nachricht ist vertraulich. Ceci est confidentiel.', '--html-file', join(work, 'legal.html')]),
    cli(['banner', 'template', 'set', 'external', '--text', '[EXTERNAL] Sent by {{sender.address}} from outside the company.', '--html', '<p><b>External sender:</b> {{sender.name}} &lt;{{sender.address}}&gt;</p>']),
  ]);
  await Promise.all([cli(['disclaimer', 'rule', 'add', '--template', 'legal', '--domain', 'local.test']), cli(['banner', 'rule', 'add', '--template', 'external', '--domain', 'corp.test'])]);
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
  await dns?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** nodemailer's SMTP client from a chosen local address (127.0.0.2: a relay network). */
const sendFrom = (localAddress: string, envelope: { from: string; to: string[] }, raw: Buffer) =>
  sendMessage(gw.port, envelope, raw, { localAddress, helo: 'app.local.test' });

const arrived = (marker: string) => arrivedAtSink(sink, marker);

const events = (id: string) => messageEvents(gw, id);

const dkimpy = (message: Buffer) => dkimpyVerify(python!, message, txt);

function outboundAlternative(id: string, opts: { htmlBase64?: boolean; latin1?: boolean; attachments?: boolean }): Buffer {
  const html = '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><p>Hallo Bob, anbei der Bericht.</p></body></html>';
  const parts: string[] = [];
  const alt = [
    '--alt',
    opts.latin1 ? 'Content-Type: text/plain; charset=ISO-8859-1' : 'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    opts.latin1 ? 'Gr=FC=DFe aus K=F6ln, anbei der Bericht.' : 'Gr=C3=BC=C3=9Fe aus K=C3=B6ln, anbei der Bericht.',
    '--alt',
    'Content-Type: text/html; charset=utf-8',
    `Content-Transfer-Encoding: ${opts.htmlBase64 ? 'base64' : '7bit'}`,
    '',
    opts.htmlBase64 ? Buffer.from(html).toString('base64').replace(/(.{76})/g, `$1${CRLF}`) : html,
    '--alt--',
  ];
  const head = ['From: Alice Example <alice@local.test>', 'To: Bob <bob@remote.test>', `Subject: report ${id}`, 'Date: Sat, 21 Nov 2026 20:00:00 +0000', `Message-ID: <${id}@local.test>`, 'MIME-Version: 1.0'];
  if (!opts.attachments) return Buffer.from([...head, 'Content-Type: multipart/alternative; boundary="alt"', '', ...alt, ''].join(CRLF), 'latin1');
  const pdf = Buffer.alloc(3000, 0);
  for (let i = 0; i < pdf.length; i++) pdf[i] = (i * 7919) % 256;
  parts.push(
    ...head,
    'Content-Type: multipart/mixed; boundary="mix"',
    '',
    'This is a multi-part message in MIME format.',
    '--mix',
    'Content-Type: multipart/alternative; boundary="alt"',
    '',
    ...alt,
    '',
    '--mix',
    'Content-Type: application/pdf; name="bericht.pdf"',
    'Content-Disposition: attachment; filename="bericht.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    pdf.toString('base64').replace(/(.{76})/g, `$1${CRLF}`),
    '--mix',
    'Content-Type: text/csv; charset=ISO-8859-1; name="zahlen.csv"',
    'Content-Disposition: attachment; filename="zahlen.csv"',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Stadt;Anzahl',
    'K=F6ln;3',
    '--mix--',
    '',
  );
  return Buffer.from(parts.join(CRLF), 'latin1');
}

const DISCLAIMER = 'Diese Nachricht ist vertraulich. Ceci est confidentiel.';

test('outbound multipart/alternative: the disclaimer in both parts, DKIM-signed after the change; dkimpy verifies at the sink', async () => {
  const msg = outboundAlternative('alt-1', {});
  const r = await sendFrom(OUR_SERVER, { from: 'alice@local.test', to: ['bob@remote.test'] }, msg);
  assert.ok(r.ok, r.response);
  const m = await arrived('<alt-1@local.test>');
  const parsed = await PostalMime.parse(m.raw);
  assert.equal(parsed.text!.trim(), `Grüße aus Köln, anbei der Bericht.\n\n${DISCLAIMER}`);
  assert.match(parsed.html!, /<p>Hallo Bob, anbei der Bericht\.<\/p><div class="hermes-disclaimer hermes-disclaimer-legal"><p style="color:#666">Diese Nachricht ist vertraulich\. Ceci est confidentiel\.<\/p><\/div><\/body><\/html>/);

  const ev = await events(queueId(r));
  const types = ev.map((e) => e.type);
  assert.ok(types.indexOf('modify') >= 0 && types.indexOf('modify') < types.indexOf('dkim-sign'), `modify before dkim-sign: ${types.join(', ')}`);
  const mod = ev.find((e) => e.type === 'modify')!.detail.disclaimer as Record<string, unknown>;
  assert.equal(mod.template, 'legal');
  assert.equal(mod.scope, 'domain local.test');
  assert.deepEqual(mod.parts, ['1 text/plain (utf-8, quoted-printable)', '2 text/html (utf-8, 7bit)']);
  // The banner rule is for corp.test, not remote.test: the trace does not mention banners.
  assert.equal(ev.find((e) => e.type === 'modify')!.detail.banner, undefined);

  const py = dkimpy(m.raw);
  assert.deepEqual(py.dkim, [{ d: 'local.test', ok: true }], 'dkimpy verifies our signature over the changed body');
  assert.equal(py.arc, 'pass', py.arc_comment);

  // The trace command shows it to an admin.
  const trace = await cli(['trace', queueId(r)]);
  assert.match(trace, /modify\s+.*disclaimer=\{"rule":\d+,"scope":"domain local.test","template":"legal"/);
});

test('outbound with a base64 HTML part, an ISO-8859-1 text part and attachments: attachments byte-identical, charset kept, signature verifies', async () => {
  const msg = outboundAlternative('alt-2', { htmlBase64: true, latin1: true, attachments: true });
  const r = await sendFrom(OUR_SERVER, { from: 'alice@local.test', to: ['bob@remote.test'] }, msg);
  assert.ok(r.ok, r.response);
  const m = await arrived('<alt-2@local.test>');
  const before = await rawParts(msg);
  const after = await rawParts(m.raw);
  assert.ok(after.get('2')!.equals(before.get('2')!), 'PDF attachment byte-identical');
  assert.ok(after.get('3')!.equals(before.get('3')!), 'CSV attachment byte-identical');
  // The ISO-8859-1 part stays ISO-8859-1 (the disclaimer fits), the sender's bytes untouched.
  const plain = after.get('1.1')!.toString('latin1');
  assert.match(plain, /^Content-Type: text\/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln, anbei der Bericht\.\r\n\r\nDiese Nachricht/);
  const html = after.get('1.2')!.toString('latin1');
  assert.match(html, /Content-Transfer-Encoding: base64\r\n\r\n[A-Za-z0-9+/=\r\n]+$/);
  const parsed = await PostalMime.parse(m.raw);
  assert.equal(parsed.text!.trim(), `Grüße aus Köln, anbei der Bericht.\n\n${DISCLAIMER}`);
  assert.match(parsed.html!, /anbei der Bericht\.<\/p><div class="hermes-disclaimer hermes-disclaimer-legal">/);
  assert.equal(parsed.attachments.length, 2);

  const py = dkimpy(m.raw);
  assert.deepEqual(py.dkim, [{ d: 'local.test', ok: true }]);
});

const SIGN_UPSTREAM = String.raw`
import sys, json, base64, dkim
d = json.load(sys.stdin)
msg = base64.b64decode(d['message'])
sig = dkim.sign(msg, b'p1', b'partner.test', d['partnerKey'].encode(), include_headers=[b'from', b'to', b'subject', b'date', b'message-id', b'mime-version', b'content-type'])
msg = sig + msg
# The list server records what it found and seals the message (ARC i=1, cv=none).
msg = b'Authentication-Results: lists.test; dkim=pass header.d=partner.test; spf=pass smtp.mailfrom=sales@partner.test; dmarc=pass header.from=partner.test\r\n' + msg
arc = dkim.arc_sign(msg, b'arc', b'lists.test', d['listKey'].encode(), b'lists.test')
sys.stdout.write(json.dumps({'message': base64.b64encode(b''.join(arc) + msg).decode()}))
`;
import { rawParts } from '../helpers/mime-parts.ts';

test('inbound from outside with an upstream DKIM signature and ARC chain (made by dkimpy): banner added, dkim=pass recorded on arrival, arc_verify passes at the sink', async () => {
  const original = Buffer.from(
    [
      'From: Sam Sales <sales@partner.test>',
      'To: alice@corp.test',
      'Subject: offer via the list',
      'Date: Sat, 21 Nov 2026 20:00:00 +0000',
      'Message-ID: <arc-1@partner.test>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Our best offer.',
      '--b1',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<html><body><p>Our best offer.</p></body></html>',
      '--b1--',
      '',
    ].join(CRLF),
  );
  const pkcs1 = (pem: string) => createPrivateKey(pem).export({ type: 'pkcs1', format: 'pem' }).toString();
  const signed = Buffer.from(
    runPythonJson<{ message: string }>(python!, SIGN_UPSTREAM, { message: original.toString('base64'), partnerKey: pkcs1(partnerKey.privateKeyPem), listKey: pkcs1(listKey.privateKeyPem) }).message,
    'base64',
  );
  const r = await sendMessage(gw.port, { from: 'list-bounces@lists.test', to: ['alice@corp.test'] }, signed);
  assert.ok(r.ok, r.response);
  const m = await arrived('<arc-1@partner.test>');
  const head = m.raw.toString('latin1').slice(0, m.raw.indexOf('\r\n\r\n'));
  assert.match(head, /^Authentication-Results: mx\.gateway\.test;[^]*dkim=pass header\.i=@partner\.test header\.s=p1/m);
  assert.match(head, /^Authentication-Results: mx\.gateway\.test;[^]*arc=pass/m);
  const seal = /^ARC-Seal: ([^\r]*)/m.exec(head)![1]!.split(/;\s*/);
  for (const tag of ['i=2', 'cv=pass', 'd=gateway.test', 's=arc1']) assert.ok(seal.includes(tag), `${tag} in our ARC-Seal`);

  const parsed = await PostalMime.parse(m.raw);
  assert.equal(parsed.text!.trim(), '[EXTERNAL] Sent by sales@partner.test from outside the company.\n\nOur best offer.');
  assert.match(parsed.html!, /<body><div class="hermes-banner hermes-banner-external"><p><b>External sender:<\/b> Sam Sales &lt;sales@partner\.test&gt;<\/p><\/div><p>Our best offer\.<\/p><\/body>/);

  const ev = await events(queueId(r));
  const banner = ev.find((e) => e.type === 'modify')!.detail.banner as Record<string, unknown>;
  assert.equal(banner.scope, 'relay-domain corp.test');
  assert.deepEqual(banner.parts, ['1 text/plain (utf-8, 7bit)', '2 text/html (utf-8, 7bit)']);
  assert.deepEqual(ev.find((e) => e.type === 'arc-seal')!.detail, { instance: 2, cv: 'pass', domain: 'gateway.test', selector: 'arc1' });

  const py = dkimpy(m.raw);
  assert.equal(py.arc, 'pass', `dkimpy arc_verify: ${py.arc_comment}`);
  // The partner's own signature covered the body before the banner: it no longer verifies,
  // which is why the chain (and our Authentication-Results) carry the arrival result.
  assert.deepEqual(py.dkim, [{ d: 'partner.test', ok: false }]);
});

test('an S/MIME-signed message (openssl smime -sign) passes through byte for byte, and the trace says why', async () => {
  const dir = mkdtempSync(join(work, 'smime-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=alice@local.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  writeFileSync(join(dir, 'body.txt'), 'Signed and sealed: do not touch.\r\n');
  execFileSync('openssl', ['smime', '-sign', '-in', join(dir, 'body.txt'), '-text', '-signer', join(dir, 'cert.pem'), '-inkey', join(dir, 'key.pem'), '-out', join(dir, 'signed.eml')]);
  const smime = readFileSync(join(dir, 'signed.eml')).toString('latin1').replace(/\r?\n/g, CRLF);
  const msg = Buffer.from(['From: alice@local.test', 'To: bob@remote.test', 'Subject: signed', 'Message-ID: <smime-1@local.test>', smime].join(CRLF), 'latin1');
  assert.match(msg.toString(), /Content-Type: multipart\/signed; protocol="application\/(x-)?pkcs7-signature"/);

  const r = await sendFrom(OUR_SERVER, { from: 'alice@local.test', to: ['bob@remote.test'] }, msg);
  assert.ok(r.ok, r.response);
  const m = await arrived('<smime-1@local.test>');
  // On top: our header fields (ARC set, DKIM-Signature, Received); below, the message exactly as sent.
  const ours = m.raw.subarray(0, m.raw.length - msg.length).toString('latin1');
  assert.ok(m.raw.subarray(m.raw.length - msg.length).equals(msg), 'the message below our trace headers is byte-identical');
  assert.match(ours, /^ARC-Seal:[^]*\r\nDKIM-Signature:[^]*\r\nReceived:[^]*\r\n$/);
  assert.ok(!ours.includes('\r\n\r\n'), 'only header fields were added on top');

  const ev = await events(queueId(r));
  const d = ev.find((e) => e.type === 'modify')!.detail.disclaimer as Record<string, unknown>;
  assert.equal(d.template, 'legal');
  assert.match(String(d.skipped), /not changed: S\/MIME signed content \(multipart\/signed\) in part TEXT/);
  // OpenSSL itself still verifies the signed content.
  writeFileSync(join(dir, 'delivered.eml'), m.raw);
  execFileSync('openssl', ['smime', '-verify', '-noverify', '-in', join(dir, 'delivered.eml'), '-out', join(dir, 'content.txt')], { stdio: 'ignore' });
  assert.match(readFileSync(join(dir, 'content.txt'), 'utf8'), /Signed and sealed: do not touch\./);
});

test('a rule change applies at once: with the banner rule disabled, inbound mail arrives without a banner and the trace says why', async () => {
  const list = await cli(['banner', 'rule', 'list']);
  const id = /^(\d+)\s+relay-domain\s+corp\.test/m.exec(list)![1]!;
  await cli(['banner', 'rule', 'disable', id]);
  await cli(['banner', 'template', 'set', 'other', '--text', 'unused']);
  await cli(['banner', 'rule', 'add', '--template', 'other', '--domain', 'local.test']);
  try {
    const raw = Buffer.from(['From: x@elsewhere.test', 'To: alice@corp.test', 'Subject: no banner', 'Message-ID: <nob-1@elsewhere.test>', '', 'hello', ''].join(CRLF));
    const r = await sendMessage(gw.port, { from: 'x@elsewhere.test', to: ['alice@corp.test'] }, raw);
    assert.ok(r.ok, r.response);
    const m = await arrived('<nob-1@elsewhere.test>');
    assert.ok(m.raw.subarray(m.raw.length - raw.length).equals(raw));
    const ev = await events(queueId(r));
    assert.deepEqual(ev.find((e) => e.type === 'modify')!.detail.banner, { skipped: 'no banner rule for the recipient domain(s) corp.test' });
  } finally {
    await cli(['banner', 'rule', 'enable', id]);
  }
});

test('hermes preview shows a message as it would leave, and what was applied', async () => {
  const file = join(work, 'preview.eml');
  writeFileSync(file, 'From: Alice <alice@local.test>\nTo: bob@remote.test\nSubject: preview\nContent-Type: text/plain; charset=utf-8\n\nDraft text\n');
  const r = await gw.cli(['preview', file, '--from', 'alice@local.test', '--to', 'bob@remote.test']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `From: Alice <alice@local.test>\r\nTo: bob@remote.test\r\nSubject: preview\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDraft text\r\n\r\n${DISCLAIMER}\r\n`);
  assert.match(r.stderr, /^as outbound mail: changed\n/);
  assert.match(r.stderr, /disclaimer: \{"rule":\d+,"scope":"domain local\.test","template":"legal","parts":\["TEXT text\/plain \(utf-8, 7bit\)"\]\}/);
  const inbound = await gw.cli(['preview', file, '--from', 'alice@local.test', '--to', 'carol@corp.test', '--inbound']);
  assert.equal(inbound.code, 0, inbound.stderr);
  assert.match(inbound.stdout, /\r\n\r\n\[EXTERNAL\] Sent by alice@local\.test from outside the company\.\r\n\r\nDraft text\r\n$/);
  const missing = await gw.cli(['preview', join(work, 'nope.eml'), '--from', 'a@b.test', '--to', 'c@d.test']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /cannot read .*nope\.eml: ENOENT/);
});
