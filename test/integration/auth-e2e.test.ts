// Sender authentication end to end, through the real SMTP listener, with a local test
// DNS server: verification and enforcement of inbound mail in the session, forged
// Authentication-Results removed, DKIM signing and ARC sealing of relayed mail with
// keys made by the CLI, and Python's dkim module (dkimpy) verifying what arrives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink, type SinkMessage } from '../helpers/peers.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';
import { queueId, sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { arrivedAtSink, messageEvents } from '../helpers/message-trace.ts';
import { findPython } from '../helpers/authvectors.ts';
import { dkimpyVerify } from '../helpers/dkimpy.ts';
import { addRelayNetwork, upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { resetSetting, setSetting } from '../../src/config/settings.ts';
import { dkimDnsName, generateDkimKey, type GeneratedDkimKey } from '../../src/pipeline/sign/dkim-keys.ts';
import { dkimSign } from '../../src/pipeline/sign/dkim-sign.ts';
import { arcSeal } from '../../src/pipeline/sign/arc-seal.ts';

const python = findPython(['dkim', 'nacl']);
const noDkimpy = python ? false : 'Python with the dkim and nacl modules (Debian python3-dkim, python3-nacl) is not available';

// Clients from 127.0.0.2 are in the relay networks (our own servers); 127.0.0.1 is the outside world.
const OUR_SERVER = '127.0.0.2';

let gw: TestGateway;
let sink: SmtpSink;
let dns: TestDns;
/** Every TXT record published in the test DNS, for dkimpy's dnsfunc. */
const txt: Record<string, string> = {};
let partnerKey: GeneratedDkimKey;
let partnerEdKey: GeneratedDkimKey;
let listKey: GeneratedDkimKey;

function publish(name: string, value: string) {
  txt[name.toLowerCase()] = value;
  dns.set(name, { TXT: [value] });
}

before(async () => {
  sink = await startSmtpSink();
  dns = await startTestDns({});
  [partnerKey, partnerEdKey, listKey] = await Promise.all([generateDkimKey('rsa-sha256'), generateDkimKey('ed25519-sha256'), generateDkimKey('rsa-sha256')]);
  // A bank that publishes p=reject and sends only from 192.0.2.0/24.
  publish('bank.test', 'v=spf1 ip4:192.0.2.0/24 -all');
  publish('_dmarc.bank.test', 'v=DMARC1; p=reject');
  // A partner that signs its mail; forwarding breaks its SPF, its DKIM carries DMARC.
  publish('partner.test', 'v=spf1 -all');
  publish('_dmarc.partner.test', 'v=DMARC1; p=reject');
  publish(dkimDnsName('p1', 'partner.test'), partnerKey.dnsTxt);
  publish(dkimDnsName('p2', 'partner.test'), partnerEdKey.dnsTxt);
  publish('_dmarc.promo.test', 'v=DMARC1; p=quarantine');
  // A mailing list that ARC-seals what it forwards.
  publish(dkimDnsName('arc', 'lists.test'), listKey.dnsTxt);

  gw = await createTestGateway({ dnsServer: dns.server });
  await upsertRelayDomain(gw.db, { domain: 'corp.test', nextHop: `127.0.0.1:${sink.port}` });
  await addRelayNetwork(gw.db, `${OUR_SERVER}/32`);
  await setSetting(gw.db, 'delivery.smarthost', `127.0.0.1:${sink.port}`);
  await setSetting(gw.db, 'auth.dnsTimeoutMs', 700);
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
  await dns?.close();
});

/** nodemailer's SMTP client from a chosen local address (127.0.0.2: a relay network). */
const sendFrom = (localAddress: string, envelope: { from: string; to: string[] }, raw: string | Buffer) =>
  sendMessage(gw.port, envelope, raw, { localAddress, helo: 'app.corp.test' });

const arrived = (marker: string) => arrivedAtSink(sink, marker, 15_000);

function headerSection(m: SinkMessage): string {
  const raw = m.raw.toString('latin1');
  return raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
}

/** Header fields (unfolded) named `name`, in order. */
function fields(head: string, name: string): string[] {
  return [...head.matchAll(new RegExp(`^${name}:(.*(?:\\r\\n[ \\t].*)*)`, 'gim'))].map((m) => m[1]!.replace(/\r\n[ \t]/g, ' ').trim());
}

const events = (id: string) => messageEvents(gw, id);

/** Our ARC set: the newest ARC-Seal is ours, with this instance and cv. */
function assertSeal(head: string, i: number, cv: string) {
  const seal = fields(head, 'ARC-Seal')[0] ?? '';
  for (const tag of [`i=${i}`, 'a=rsa-sha256', `cv=${cv}`, 'd=gateway.test', 's=arc1']) assert.ok(seal.split(/;\s*/).includes(tag), `${tag} in ARC-Seal: ${seal}`);
  assert.ok(fields(head, 'ARC-Message-Signature').some((f) => f.startsWith(`i=${i};`)));
}

const dkimpy = (message: Buffer) => dkimpyVerify(python!, message, txt);

test('outbound from our network: keys made with the CLI, mail arrives DKIM-signed (RSA + Ed25519) and ARC-sealed; dkimpy verifies both', async () => {
  // CLI calls that do not depend on each other run side by side (each is a Node start-up).
  const made = await Promise.all(
    [
      ['dkim', 'generate', 'local.test', '--selector', 'rsa1'],
      ['dkim', 'generate', 'local.test', '--selector', 'ed1', '--algorithm', 'ed25519'],
      ['dkim', 'generate', 'gateway.test', '--selector', 'arc1'],
    ].map((args) => gw.cli(args)),
  );
  for (const r of made) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /publish this DNS record:\n\S+\._domainkey\.\S+\. IN TXT \( "v=DKIM1; k=(rsa|ed25519); p=/);
  }
  for (const r of await Promise.all(['local.test', 'gateway.test'].map((d) => gw.cli(['dkim', 'dns', d, '--json'])))) {
    assert.equal(r.code, 0, r.stderr);
    for (const rec of (JSON.parse(r.stdout) as { publish: Array<{ name: string; value: string; status: string }> }).publish) {
      assert.equal(rec.status, 'active');
      publish(rec.name, rec.value);
    }
  }
  const [check, arc, bad] = await Promise.all([
    gw.cli(['dkim', 'dns', 'local.test', '--check']),
    gw.cli(['arc', 'enable', '--domain', 'gateway.test', '--selector', 'arc1']),
    gw.cli(['arc', 'enable', '--domain', 'local.test', '--selector', 'ed1']),
  ]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /rsa1\._domainkey\.local\.test\s+active\s+published/);
  assert.match(check.stdout, /ed1\._domainkey\.local\.test\s+active\s+published/);
  assert.equal(arc.code, 0, arc.stderr);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /ARC sealing needs an RSA key/);

  const body = simpleMessage({ from: 'alice@local.test', to: 'bob@remote.test', subject: 'outbound signed', messageId: '<out-1@local.test>' });
  const r = await sendFrom(OUR_SERVER, { from: 'alice@local.test', to: ['bob@remote.test'] }, body);
  assert.ok(r.ok, r.response);
  const id = queueId(r);
  const m = await arrived('<out-1@local.test>');
  const head = headerSection(m);
  // Seal on top, then the signatures, then our Received header.
  assert.match(head, /^ARC-Seal:/);
  assertSeal(head, 1, 'none');
  const sigs = fields(head, 'DKIM-Signature');
  assert.equal(sigs.length, 2);
  assert.ok(sigs.some((s) => /a=rsa-sha256/.test(s) && /d=local\.test/.test(s) && /s=rsa1/.test(s)));
  assert.ok(sigs.some((s) => /a=ed25519-sha256/.test(s) && /s=ed1/.test(s)));
  assert.ok(head.search(/^DKIM-Signature:/m) < head.search(/^Received:/m), 'signatures above our Received header');
  assert.equal(fields(head, 'Authentication-Results').length, 0, 'outbound mail is not judged');

  const ev = await events(id);
  const sign = ev.find((e) => e.type === 'dkim-sign')?.detail;
  assert.equal(sign?.domain, 'local.test');
  assert.deepEqual([...(sign?.signatures as string[])].sort(), ['s=ed1 a=ed25519-sha256', 's=rsa1 a=rsa-sha256']);
  assert.deepEqual(ev.find((e) => e.type === 'arc-seal')?.detail, { instance: 1, cv: 'none', domain: 'gateway.test', selector: 'arc1' });

  if (noDkimpy) return;
  const py = dkimpy(m.raw);
  assert.deepEqual(py.dkim.map((s) => s.ok), [true, true], 'dkimpy verifies the RSA and the Ed25519 signature');
  assert.equal(py.arc, 'pass', `dkimpy arc_verify: ${py.arc_comment}`);
});

test('a spoof From a p=reject domain (SPF fails from 127.0.0.1, no DKIM) is refused in the session with 550 5.7.1, and traced', async () => {
  const r = await sendMessage(gw.port, { from: 'ceo@bank.test', to: ['alice@corp.test'] }, simpleMessage({ from: 'ceo@bank.test', to: 'alice@corp.test', subject: 'wire transfer now' }));
  assert.equal(r.ok, false);
  assert.equal(r.code, 550, r.response);
  assert.match(r.response, /^550 5\.7\.1 .*DMARC.*bank\.test/);
  const row = await eventually(
    () => gw.db.selectFrom('messages').selectAll().where('mail_from', '=', 'ceo@bank.test').where('state', '=', 'rejected').executeTakeFirst(),
    10_000,
    'the rejected message in the trace',
  );
  const ev = await events(row.id);
  const auth = ev.find((e) => e.type === 'auth')!.detail;
  assert.match(String(auth.spf), /^fail/);
  assert.match(String(auth.dmarc), /^fail from=bank\.test p=reject/);
  assert.equal(auth.action, 'reject');
  assert.ok(ev.some((e) => e.type === 'rejected' && (e.detail.reply as { code: number }).code === 550));
  const trace = await gw.cli(['trace', row.id]);
  assert.match(trace.stdout, /auth\s+.*dmarc=fail from=bank\.test p=reject/);
});

test('a correctly signed message passes DMARC (despite SPF fail) and arrives with our Authentication-Results, dkim=pass, ARC-sealed', async () => {
  const raw = Buffer.from(simpleMessage({ from: 'sales@partner.test', to: 'alice@corp.test', subject: 'signed offer', messageId: '<signed-1@partner.test>' }));
  const signed = await dkimSign(raw, [
    { domain: 'partner.test', selector: 'p1', privateKeyPem: partnerKey.privateKeyPem, algorithm: 'rsa-sha256' },
    { domain: 'partner.test', selector: 'p2', privateKeyPem: partnerEdKey.privateKeyPem, algorithm: 'ed25519-sha256' },
  ]);
  const r = await sendMessage(gw.port, { from: 'sales@partner.test', to: ['alice@corp.test'] }, signed);
  assert.ok(r.ok, r.response);
  const m = await arrived('<signed-1@partner.test>');
  const head = headerSection(m);
  const ar = fields(head, 'Authentication-Results');
  assert.equal(ar.length, 1);
  assert.match(ar[0]!, /^mx\.gateway\.test;/);
  assert.match(ar[0]!, /dkim=pass header\.i=@partner\.test header\.s=p1 header\.a=rsa-sha256/);
  assert.match(ar[0]!, /dkim=pass [^;]*header\.s=p2/);
  assert.match(ar[0]!, /spf=fail/);
  assert.match(ar[0]!, /dmarc=pass/);
  // Order on top: ARC set, our Received, our Authentication-Results, then the message as sent.
  const at = (name: string) => head.search(new RegExp(`^${name}:`, 'im'));
  assert.ok(at('ARC-Seal') === 0 && at('ARC-Seal') < at('Received') && at('Received') < at('Authentication-Results'));
  assert.ok(at('Authentication-Results') < at('DKIM-Signature'));
  assert.match(fields(head, 'ARC-Authentication-Results')[0]!, /^i=1; mx\.gateway\.test;.*dmarc=pass/);
  assert.equal(fields(head, 'X-Hermes-Auth').length, 0);
  const ev = await events(queueId(r));
  assert.equal(ev.find((e) => e.type === 'auth')?.detail.action, 'accept');

  if (noDkimpy) return;
  const py = dkimpy(m.raw);
  assert.deepEqual(py.dkim.map((s) => s.ok), [true, true], 'the partner signatures still verify after our changes');
  assert.equal(py.arc, 'pass', py.arc_comment);
});

test('an incoming Authentication-Results claiming our authserv-id is removed; others stay', async () => {
  const forged = [
    'Authentication-Results: MX.Gateway.Test; dkim=pass header.d=bank.test;',
    '\tdmarc=pass header.from=bank.test',
    'Authentication-Results: elsewhere.example; spf=pass smtp.mailfrom=someone@plain.test',
    simpleMessage({ from: 'someone@plain.test', to: 'alice@corp.test', subject: 'forged results', messageId: '<forged-1@plain.test>' }),
  ].join('\r\n');
  const r = await sendMessage(gw.port, { from: 'someone@plain.test', to: ['alice@corp.test'] }, forged);
  assert.ok(r.ok, r.response);
  const head = headerSection(await arrived('<forged-1@plain.test>'));
  const ar = fields(head, 'Authentication-Results');
  assert.equal(ar.length, 2, ar.join('\n'));
  const ours = ar.filter((a) => /^mx\.gateway\.test;/i.test(a));
  assert.equal(ours.length, 1);
  assert.match(ours[0]!, /dkim=none/);
  assert.doesNotMatch(head, /header\.d=bank\.test/);
  assert.ok(ar.some((a) => a.startsWith('elsewhere.example;')));
  const ev = await events(queueId(r));
  assert.equal(ev.find((e) => e.type === 'auth')?.detail.forgedResultsRemoved, true);
});

test('DMARC p=quarantine: held in the quarantine store (decide stage), not delivered', async () => {
  const r = await sendMessage(gw.port, { from: 'deals@promo.test', to: ['alice@corp.test'] }, simpleMessage({ from: 'deals@promo.test', to: 'alice@corp.test', subject: 'promo', messageId: '<promo-1@promo.test>' }));
  assert.ok(r.ok, r.response);
  const id = queueId(r);
  const ev = await eventually(async () => ((await events(id)).some((e) => e.type === 'quarantined') ? events(id) : null), 15_000, 'quarantined event');
  const auth = ev.find((e) => e.type === 'auth')!.detail;
  assert.equal(auth.action, 'quarantine');
  assert.equal(auth.applied, 'to be held in the quarantine by the decide stage (category auth)');
  const fate = ev.find((e) => e.type === 'policy')!.detail;
  assert.equal(fate.fate, 'quarantined');
  assert.match(String(fate.reason), /^sender authentication: DMARC fail for promo\.test, p=quarantine/);
  const held = await gw.db.selectFrom('quarantine').select(['id', 'category']).where('message_id', '=', id).execute();
  assert.deepEqual(held.map((h) => h.category), ['auth']);
  // The held copy carries our verdict in Authentication-Results only: no private header.
  const raw = await gw.cli(['quarantine', 'show', held[0]!.id, '--raw']);
  assert.equal(raw.code, 0, raw.stderr);
  assert.match(raw.stdout, /^Authentication-Results: mx\.gateway\.test;[^]*dmarc=fail/m);
  assert.doesNotMatch(raw.stdout, /X-Hermes/i);
  assert.ok(!(await sink.messages()).some((m) => m.raw.includes('<promo-1@promo.test>')));
});

test('DMARC p=quarantine is held even with the content filter off (filter.enabled=false): the decide stage still runs for it', async () => {
  await setSetting(gw.db, 'filter.enabled', false);
  try {
    const r = await sendMessage(gw.port, { from: 'deals@promo.test', to: ['alice@corp.test'] }, simpleMessage({ from: 'deals@promo.test', to: 'alice@corp.test', subject: 'promo, filter off', messageId: '<promo-3@promo.test>' }));
    assert.ok(r.ok, r.response);
    const id = queueId(r);
    const held = await eventually(async () => {
      const rows = await gw.db.selectFrom('quarantine').select(['category']).where('message_id', '=', id).execute();
      return rows.length ? rows : null;
    }, 15_000, 'the held message');
    assert.deepEqual(held, [{ category: 'auth' }]);
    const ev = await events(id);
    assert.ok(!ev.some((e) => e.type === 'spam'), 'no content filtering ran');
    assert.ok(!(await sink.messages()).some((m) => m.raw.includes('<promo-3@promo.test>')));
  } finally {
    await resetSetting(gw.db, 'filter.enabled');
  }
});

test('DMARC p=quarantine with auth.dmarcQuarantine=tag: delivered with the policy\'s subject tag, traced as tagged', async () => {
  await setSetting(gw.db, 'auth.dmarcQuarantine', 'tag');
  try {
    const r = await sendMessage(gw.port, { from: 'deals@promo.test', to: ['alice@corp.test'] }, simpleMessage({ from: 'deals@promo.test', to: 'alice@corp.test', subject: 'promo two', messageId: '<promo-2@promo.test>' }));
    assert.ok(r.ok, r.response);
    const head = headerSection(await arrived('<promo-2@promo.test>'));
    assert.match(head, /^Subject: \[SUSPECTED SPAM\] promo two\r?$/m);
    assert.match(head, /^X-Spam-Flag: YES\r?$/m);
    assert.doesNotMatch(head, /X-Hermes/i);
    const ev = await events(queueId(r));
    assert.equal(ev.find((e) => e.type === 'auth')?.detail.action, 'tag');
    assert.equal(ev.find((e) => e.type === 'policy')?.detail.fate, 'tagged');
  } finally {
    await resetSetting(gw.db, 'auth.dmarcQuarantine');
  }
});

test('a chain sealed by a trusted list keeps a p=reject From deliverable; our seal says cv=pass (dkimpy agrees)', async () => {
  const original = Buffer.from(simpleMessage({ from: 'ceo@bank.test', to: 'staff@lists.test', subject: 'via the list', messageId: '<list-1@bank.test>' }));
  const viaList = await arcSeal(original, {
    key: { domain: 'lists.test', selector: 'arc', privateKeyPem: listKey.privateKeyPem },
    arrival: { result: 'none', instance: 0, shouldSeal: true },
    authResults: 'lists.test; dkim=pass header.d=bank.test; spf=pass smtp.mailfrom=ceo@bank.test; dmarc=pass header.from=bank.test',
  });
  const env = { from: 'staff-bounces@lists.test', to: ['alice@corp.test'] };
  // Not trusted yet: the From domain's p=reject applies.
  const refused = await sendMessage(gw.port, env, viaList.message);
  assert.equal(refused.code, 550, refused.response);

  await setSetting(gw.db, 'auth.trustedArcSealers', ['lists.test']);
  try {
    const r = await sendMessage(gw.port, env, viaList.message);
    assert.ok(r.ok, r.response);
    const auth = (await events(queueId(r))).find((e) => e.type === 'auth')!.detail;
    assert.equal(auth.arcOverride, true);
    assert.match((auth.reasons as string[]).join('\n'), /trusted sealer lists\.test/);
    const m = await arrived('<list-1@bank.test>');
    assertSeal(headerSection(m), 2, 'pass');
    if (noDkimpy) return;
    const py = dkimpy(m.raw);
    assert.equal(py.arc, 'pass', py.arc_comment);
  } finally {
    await resetSetting(gw.db, 'auth.trustedArcSealers');
  }
});

test('DNS timeout: 451 by default (never a silent pass); with auth.onTempError=neutral the message goes on', async () => {
  dns.setDelay(2500);
  try {
    const t0 = Date.now();
    const r = await sendMessage(gw.port, { from: 'x@slow.test', to: ['alice@corp.test'] }, simpleMessage({ from: 'x@slow.test', to: 'alice@corp.test', subject: 'slow dns' }));
    assert.equal(r.code, 451, r.response);
    assert.match(r.response, /^451 4\.7\.\d+ .*DNS/);
    // The answers would come after 2.5 s (and then say "no policy"): the 451 shows that the
    // configured 700 ms per lookup cut them off, and the reply came well before two answers.
    assert.ok(Date.now() - t0 < 4500, `answered after ${Date.now() - t0} ms`);

    await setSetting(gw.db, 'auth.onTempError', 'neutral');
    const ok = await sendMessage(gw.port, { from: 'y@slow2.test', to: ['alice@corp.test'] }, simpleMessage({ from: 'y@slow2.test', to: 'alice@corp.test', subject: 'slow dns neutral', messageId: '<slow-2@slow2.test>' }));
    assert.ok(ok.ok, ok.response);
    const auth = (await events(queueId(ok))).find((e) => e.type === 'auth')!.detail;
    assert.match(String(auth.dmarc), /^temperror/);
    assert.ok((auth.dnsFailures as string[]).some((f) => /ETIMEOUT/.test(f)));
  } finally {
    dns.setDelay(0);
    await resetSetting(gw.db, 'auth.onTempError');
  }
});

test('rotation: the new key signs at once, the retired one stays in "dkim dns" but no longer signs', async () => {
  const rot = await gw.cli(['dkim', 'rotate', 'local.test', '--algorithm', 'rsa', '--selector', 'rsa2']);
  assert.equal(rot.code, 0, rot.stderr);
  assert.match(rot.stdout, /now signing: rsa2/);
  assert.match(rot.stdout, /retired: rsa1 .*keep it published until/);
  const [dnsOut, rm] = await Promise.all([gw.cli(['dkim', 'dns', 'local.test', '--json']), gw.cli(['dkim', 'remove', 'local.test', 'rsa1'])]);
  assert.notEqual(rm.code, 0, 'a retiring key inside its overlap is not removed without --force');
  assert.match(rm.stderr, /in transit until/);
  const recs = JSON.parse(dnsOut.stdout) as { publish: Array<{ name: string; value: string; status: string }> };
  assert.deepEqual(recs.publish.map((p) => `${p.name} ${p.status}`).sort(), [
    'ed1._domainkey.local.test active',
    'rsa1._domainkey.local.test retiring',
    'rsa2._domainkey.local.test active',
  ]);
  for (const p of recs.publish) publish(p.name, p.value);

  const r = await sendFrom(OUR_SERVER, { from: 'alice@local.test', to: ['bob@remote.test'] }, simpleMessage({ from: 'alice@local.test', to: 'bob@remote.test', subject: 'after rotation', messageId: '<out-2@local.test>' }));
  assert.ok(r.ok, r.response);
  const sigs = fields(headerSection(await arrived('<out-2@local.test>')), 'DKIM-Signature');
  assert.deepEqual(sigs.map((s) => /s=([^;\s]+)/.exec(s)![1]).sort(), ['ed1', 'rsa2']);

});
