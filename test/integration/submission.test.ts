// Authenticated submission end to end, with swaks as the mail client (a peer we did not
// write): 587 with STARTTLS then AUTH, 465 with implicit TLS (RFC 8314), SASL PLAIN and
// LOGIN against a console account and its app passwords; AUTH before STARTTLS refused;
// wrong passwords throttled; sending as someone else refused with 553 5.7.1; per-user
// rate limit; and submitted mail is outbound mail: DKIM-signed (dkimpy verifies) and
// relayed through the smarthost, with ESMTPSA in our Received header.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { runSwaks, startSmtpSink, type SmtpSink, type SinkMessage } from '../helpers/peers.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';
import { arrivedAtSink, messageEvents } from '../helpers/message-trace.ts';
import { rawSession } from '../helpers/smtp-probe.ts';
import { findPython } from '../helpers/authvectors.ts';
import { dkimpyVerify } from '../helpers/dkimpy.ts';
import { setSetting } from '../../src/config/settings.ts';
import { cliActor } from '../../src/services/actor.ts';
import { createUser } from '../../src/services/user-service.ts';

const python = findPython(['dkim', 'nacl']);
const noDkimpy = python ? false : 'Python with the dkim module (Debian python3-dkim) is not available';

const ALICE = 'alice@corp.test';
const ALICE_PASSWORD = 'correct horse battery staple';
let gw: TestGateway;
let sink: SmtpSink;
let dns: TestDns;
const txt: Record<string, string> = {};

before(async () => {
  sink = await startSmtpSink();
  dns = await startTestDns({});
  gw = await createTestGateway({ dnsServer: dns.server, submission: true });
  // Outbound mail leaves through a smarthost: the sink.
  await setSetting(gw.db, 'delivery.smarthost', `127.0.0.1:${sink.port}`);
  await createUser(gw.db, cliActor(), { username: ALICE, role: 'auditor', password: ALICE_PASSWORD });
  await createUser(gw.db, cliActor(), { username: 'mallory@corp.test', role: 'auditor', password: 'mallory guesses wrong 123' });
  await createUser(gw.db, cliActor(), { username: 'bulk@corp.test', role: 'auditor', password: 'bulk sender password 123' });
  const key = await gw.cli(['dkim', 'generate', 'corp.test', '--selector', 'sub1']);
  assert.equal(key.code, 0, key.stderr);
  const rec = await gw.cli(['dkim', 'dns', 'corp.test', '--json']);
  assert.equal(rec.code, 0, rec.stderr);
  for (const r of (JSON.parse(rec.stdout) as { publish: Array<{ name: string; value: string }> }).publish) {
    txt[r.name.toLowerCase().replace(/\.$/, '')] = r.value;
    dns.set(r.name, { TXT: [r.value] });
  }
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
  await dns?.close();
});

interface SwaksRun {
  exitCode: number;
  out: string;
}

/** swaks against a submission port; `tls`: --tls (STARTTLS, 587) or --tlsc (implicit, 465). */
async function swaks(o: { port: number; tls: '--tls' | '--tlsc' | null; auth?: 'PLAIN' | 'LOGIN'; user?: string; password?: string; from: string; header?: string[]; to?: string; marker?: string }): Promise<SwaksRun> {
  const args = ['--server', `127.0.0.1:${o.port}`, '--from', o.from, '--to', o.to ?? 'bob@remote.test', '--helo', 'laptop.corp.test', '--timeout', '30'];
  if (o.tls) args.push(o.tls);
  if (o.auth) args.push('--auth', o.auth, '--auth-user', o.user ?? ALICE, '--auth-password', o.password ?? ALICE_PASSWORD);
  args.push('--header', `Subject: submission ${o.marker ?? 'test'}`, '--header', `Message-Id: <${o.marker ?? 'x'}@corp.test>`);
  for (const h of o.header ?? []) args.push('--header', h);
  args.push('--body', `marker ${o.marker ?? ''}`);
  const r = await runSwaks(args);
  return { exitCode: r.exitCode, out: r.stdout + r.stderr };
}

/** The last server reply lines swaks printed ("<~ 250 ..." or "<** 553 ..."). */
const serverSaid = (out: string, code: string) => out.split('\n').some((l) => new RegExp(`^<[~*\\s]+${code}\\b`).test(l.trim()));

const queueIdOf = (out: string) => /queued as ([A-Za-z0-9]+)/.exec(out)?.[1];

function headerSection(m: SinkMessage): string {
  const raw = m.raw.toString('latin1');
  return raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
}

test('587: STARTTLS, AUTH PLAIN, own address: accepted, DKIM-signed (dkimpy verifies), ESMTPSA in Received, user and TLS in the trace', { skip: noDkimpy }, async () => {
  const r = await swaks({ port: gw.submissionPort!, tls: '--tls', auth: 'PLAIN', from: ALICE, header: [`From: Alice <${ALICE}>`], marker: 'plain587' });
  assert.equal(r.exitCode, 0, r.out);
  const id = queueIdOf(r.out);
  assert.ok(id, `queue id in: ${r.out}`);
  const m = await arrivedAtSink(sink, '<plain587@corp.test>');
  const head = headerSection(m);
  assert.match(head, /^DKIM-Signature:.*d=corp\.test/m, head);
  assert.match(head, /with ESMTPSA id /, 'Received header says ESMTPSA');
  assert.match(head, /\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\)/, head);
  const verdict = dkimpyVerify(python!, m.raw, txt);
  assert.deepEqual(verdict.dkim, [{ d: 'corp.test', ok: true }], JSON.stringify(verdict));
  const received = (await messageEvents(gw, id!)).find((e) => e.type === 'received');
  assert.equal(received?.detail.authenticatedUser, ALICE, JSON.stringify(received));
  assert.match(String(received?.detail.tlsVersion), /^TLSv1\.[23]$/, JSON.stringify(received));
  assert.ok(received?.detail.cipher, `cipher in the trace: ${JSON.stringify(received)}`);
  const msg = await gw.db.selectFrom('messages').select(['direction', 'tls']).where('id', '=', id!).executeTakeFirstOrThrow();
  assert.equal(msg.direction, 'outbound');
  assert.match(String(msg.tls), /^TLSv1\.[23] with cipher /);
});

test('465: implicit TLS, AUTH LOGIN: accepted and relayed', async () => {
  const r = await swaks({ port: gw.submissionsPort!, tls: '--tlsc', auth: 'LOGIN', from: ALICE, header: [`From: ${ALICE}`], marker: 'login465' });
  assert.equal(r.exitCode, 0, r.out);
  const m = await arrivedAtSink(sink, '<login465@corp.test>');
  assert.deepEqual(m.to, ['bob@remote.test']);
  assert.equal(m.from, ALICE);
});

test('587: AUTH before STARTTLS is refused (538), MAIL without AUTH is refused (530)', async () => {
  const r = await swaks({ port: gw.submissionPort!, tls: null, auth: 'PLAIN', from: ALICE, marker: 'plaintext' });
  assert.notEqual(r.exitCode, 0, r.out);
  assert.ok(serverSaid(r.out, '538'), `538 Must issue a STARTTLS command first: ${r.out}`);
  const raw = await rawSession(gw.submissionPort!, ['EHLO laptop.corp.test\r\n', `MAIL FROM:<${ALICE}>\r\n`, 'QUIT\r\n']);
  assert.match(raw, /^530 5\.7\.0 Authentication required/m, raw);
});

test('wrong passwords: 535 each time, then the account is throttled (454 4.7.0) even with the right password; unlock lifts it', async () => {
  for (let i = 0; i < 5; i++) {
    const r = await swaks({ port: gw.submissionsPort!, tls: '--tlsc', auth: 'PLAIN', user: 'mallory@corp.test', password: `guess ${i}`, from: 'mallory@corp.test' });
    assert.notEqual(r.exitCode, 0, r.out);
    assert.ok(serverSaid(r.out, '535'), `535 for a wrong password: ${r.out}`);
  }
  const locked = await swaks({ port: gw.submissionsPort!, tls: '--tlsc', auth: 'PLAIN', user: 'mallory@corp.test', password: 'mallory guesses wrong 123', from: 'mallory@corp.test' });
  assert.notEqual(locked.exitCode, 0, locked.out);
  assert.ok(serverSaid(locked.out, '454'), `454 while locked: ${locked.out}`);
  assert.match(locked.out, /4\.7\.0 Temporary authentication failure: this account is locked/);
  const unlock = await gw.cli(['admin', 'unlock', 'mallory@corp.test']);
  assert.equal(unlock.code, 0, unlock.stderr);
  const again = await swaks({ port: gw.submissionsPort!, tls: '--tlsc', auth: 'PLAIN', user: 'mallory@corp.test', password: 'mallory guesses wrong 123', from: 'mallory@corp.test', header: ['From: mallory@corp.test'], marker: 'unlocked' });
  assert.equal(again.exitCode, 0, again.out);
});

test('sending as someone else: MAIL FROM and From: header not owned get 553 5.7.1; an assigned address is accepted', async () => {
  const envelope = await swaks({ port: gw.submissionPort!, tls: '--tls', auth: 'PLAIN', from: 'ceo@corp.test', marker: 'spoof-env' });
  assert.notEqual(envelope.exitCode, 0, envelope.out);
  assert.match(envelope.out, /553 5\.7\.1 <ceo@corp\.test>: Sender address rejected: not owned by user alice@corp\.test/);
  const header = await swaks({ port: gw.submissionPort!, tls: '--tls', auth: 'PLAIN', from: ALICE, header: ['From: The CEO <ceo@corp.test>'], marker: 'spoof-hdr' });
  assert.notEqual(header.exitCode, 0, header.out);
  assert.match(header.out, /553 5\.7\.1 From: <ceo@corp\.test> rejected: not owned by user alice@corp\.test/);
  const add = await gw.cli(['sender-address', 'add', ALICE, 'sales@corp.test']);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /sales@corp\.test/);
  const ok = await swaks({ port: gw.submissionPort!, tls: '--tls', auth: 'PLAIN', from: 'sales@corp.test', header: ['From: Sales <sales@corp.test>'], marker: 'assigned' });
  assert.equal(ok.exitCode, 0, ok.out);
});

test('app password: created with the CLI, signs in; revoked, it does not', async () => {
  const made = await gw.cli(['app-password', 'create', ALICE, 'thunderbird']);
  assert.equal(made.code, 0, made.stderr);
  const secret = made.stdout.split('\n')[1]!.trim();
  assert.match(secret, /^[A-Za-z0-9]{24}$/, made.stdout);
  const ok = await swaks({ port: gw.submissionsPort!, tls: '--tlsc', auth: 'LOGIN', password: secret, from: ALICE, header: [`From: ${ALICE}`], marker: 'apppw' });
  assert.equal(ok.exitCode, 0, ok.out);
  const list = await gw.cli(['app-password', 'list', ALICE]);
  assert.match(list.stdout, /thunderbird\s+\S+\s+\d{4}-\d\d-\d\dT/, `last use recorded: ${list.stdout}`);
  const revoke = await gw.cli(['app-password', 'revoke', ALICE, 'thunderbird']);
  assert.equal(revoke.code, 0, revoke.stderr);
  const refused = await swaks({ port: gw.submissionsPort!, tls: '--tlsc', auth: 'LOGIN', password: secret, from: ALICE });
  assert.ok(serverSaid(refused.out, '535'), refused.out);
});

test('per-user rate limit: above submission.userMessagesPerHour MAIL gets 450 4.7.1', async () => {
  await setSetting(gw.db, 'submission.userMessagesPerHour', 1);
  try {
    const send = (marker: string) => swaks({ port: gw.submissionsPort!, tls: '--tlsc', auth: 'PLAIN', user: 'bulk@corp.test', password: 'bulk sender password 123', from: 'bulk@corp.test', header: ['From: bulk@corp.test'], marker });
    const first = await send('bulk1');
    assert.equal(first.exitCode, 0, first.out);
    const second = await send('bulk2');
    assert.notEqual(second.exitCode, 0, second.out);
    assert.match(second.out, /450 4\.7\.1 Rate limit: user bulk@corp\.test sent 1 messages in the last hour/);
  } finally {
    await setSetting(gw.db, 'submission.userMessagesPerHour', 500);
  }
});
