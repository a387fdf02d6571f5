// End to end: messages held for two users on a real gateway, the digest job from the CLI,
// the digests fetched from smtp-sink (DKIM checked by dkimpy, readable as plain text),
// and a release link followed in Debian's Chromium: the GET only shows a confirmation
// page, the button releases, and exactly that message reaches the sink once. A replay,
// user A's link bent to user B's message, a tampered and an expired link each get a
// clear page and release nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import type { Browser, Page } from 'playwright-core';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SinkMessage, type SmtpSink } from '../helpers/peers.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { findPython } from '../helpers/authvectors.ts';
import { dkimpyVerify } from '../helpers/dkimpy.ts';
import { launchBrowser, newContext, screenshot } from '../helpers/browser.ts';
import { httpsCall } from '../helpers/api.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSettings } from '../../src/config/settings.ts';
import { loadConfig } from '../../src/config/bootstrap.ts';
import { loadMasterKey } from '../../src/keys/master-key.ts';
import { LinkSigner } from '../../src/portal/action-links.ts';

const python = findPython(['dkim']);
assert.ok(python, 'Python with the dkim module (Debian python3-dkim) is needed: run scripts/install-peers.sh');

let gw: TestGateway;
let sink: SmtpSink;
let browser: Browser;
const txt: Record<string, string> = {};

before(async () => {
  sink = await startSmtpSink();
  gw = await createTestGateway();
  await upsertRelayDomain(gw.db, { domain: 'example.com', nextHop: `127.0.0.1:${sink.port}` });
  await setSettings(gw.db, { 'spam.autolearn': false, 'notify.from': 'quarantine@example.com', 'portal.baseUrl': `https://127.0.0.1:${gw.httpPort}` });
  assert.equal((await gw.cli(['dkim', 'generate', 'example.com', '--selector', 'q1'])).code, 0, 'DKIM key made');
  const dns = JSON.parse((await gw.cli(['dkim', 'dns', 'example.com', '--json'])).stdout) as { publish: Array<{ name: string; value: string }> };
  for (const r of dns.publish) txt[r.name.toLowerCase()] = r.value;
  assert.equal((await gw.cli(['rules', 'add', 'hold-test', '--when', 'header:Subject contains HOLDME', '--action', 'quarantine'])).code, 0, 'rule added');
  await gw.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await gw?.cleanup();
  await sink?.stop();
});

const hold = async (to: string, subject: string) => {
  const r = await sendMessage(gw.port, { from: 'sender@outside.test', to: [to] }, simpleMessage({ from: 'sender@outside.test', to, subject, messageId: `<${subject.replace(/\W+/g, '-')}@outside.test>` }));
  assert.equal(r.code, 250, r.response);
};

const heldIdOf = async (subject: string) =>
  eventually(async () => (await gw.db.selectFrom('quarantine').select(['id', 'message_id']).where('subject', '=', subject).executeTakeFirst()) ?? null, 20_000, `held "${subject}"`);

const recipientState = async (id: string, address: string) =>
  (await gw.db.selectFrom('quarantine_recipients').select('state').where('quarantine_id', '=', id).where('address', '=', address).executeTakeFirstOrThrow()).state;

const arrivalsOf = async (subject: string) => (await sink.messages()).filter((m) => m.raw.toString('latin1').includes(`Subject: ${subject}`) && !m.raw.toString('latin1').includes('Quarantine digest'));

async function digestFor(address: string): Promise<SinkMessage> {
  return eventually(async () => (await sink.messages()).find((m) => m.to.includes(address) && /Subject: Quarantine digest/.test(m.raw.toString('latin1'))), 30_000, `digest for ${address}`);
}

test('digests for two users, a release link followed in Chromium, and every bad link refused', async () => {
  await hold('alice@example.com', 'HOLDME alice one');
  await hold('alice@example.com', 'HOLDME alice two');
  await hold('bob@example.com', 'HOLDME bob one');
  const a1 = await heldIdOf('HOLDME alice one');
  const a2 = await heldIdOf('HOLDME alice two');
  const b1 = await heldIdOf('HOLDME bob one');

  const run = await gw.cli(['digest', 'run']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /recipients 2\s+digests 2\s+messages 3/, run.stdout);
  const aliceDigest = await digestFor('alice@example.com');
  const bobDigest = await digestFor('bob@example.com');

  // Signed by the gateway (dkimpy agrees), HTML and readable plain text.
  for (const d of [aliceDigest, bobDigest]) {
    const v = dkimpyVerify(python!, d.raw, txt);
    assert.deepEqual(v.dkim, [{ d: 'example.com', ok: true }], `dkimpy verifies the digest to ${d.to.join(',')}`);
  }
  const alice = await PostalMime.parse(aliceDigest.raw);
  assert.ok(alice.html && alice.text, 'the digest has an HTML and a text part');
  assert.match(alice.text!, /HOLDME alice one/);
  assert.match(alice.text!, /HOLDME alice two/);
  assert.doesNotMatch(alice.text!, /HOLDME bob/, "alice's digest says nothing about bob's mail");
  assert.match(alice.text!, /From:\s+<?sender@outside\.test/);
  assert.match(alice.text!, /Category: Policy rule, score/);
  const links = [...alice.text!.matchAll(/^\s+(Release|Delete|Always allow|Block sender):\s+(\S+)$/gm)].map((m) => ({ label: m[1]!, url: m[2]! }));
  assert.equal(links.length, 8, 'four links per message');
  assert.match(alice.text!, /Sign in to the portal: https:\/\/127\.0\.0\.1:\d+\/portal\/link\//);
  // The text lists newest first: the first block is "alice two".
  const order = alice.text!.indexOf('HOLDME alice two') < alice.text!.indexOf('HOLDME alice one');
  const releaseOne = links.filter((l) => l.label === 'Release')[order ? 1 : 0]!.url;
  const releaseTwo = links.filter((l) => l.label === 'Release')[order ? 0 : 1]!.url;

  // Nothing new held: a second run sends nothing.
  const again = await gw.cli(['digest', 'run', '--force']);
  assert.match(again.stdout, /digests 0/, again.stdout);

  // The digest as a mail client shows it.
  const ctx = await newContext(browser);
  const view: Page = await ctx.newPage();
  await view.setContent(alice.html!);
  await screenshot(view, 'portal-digest-mail');
  await view.close();

  // A bare GET (what a link scanner does) only shows the confirmation page.
  const before = (await arrivalsOf('HOLDME alice one')).length;
  const scan = await httpsCall(gw.baseUrl, 'GET', new URL(releaseOne).pathname, {});
  assert.equal(scan.status, 200);
  assert.match(scan.text, /Release this message to your inbox\?/);
  assert.doesNotMatch(scan.text, /<script/i, 'no script on the page');
  assert.match(scan.headers['content-security-policy'] as string, /script-src 'self'/);
  // A POST of the token without the page's form value is refused too.
  const forged = await httpsCall(gw.baseUrl, 'POST', '/portal/link', { 'content-type': 'application/x-www-form-urlencoded' }, `token=${encodeURIComponent(new URL(releaseOne).pathname.split('/').pop()!)}`);
  assert.equal(forged.status, 403, forged.text);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await recipientState(a1.id, 'alice@example.com'), 'held', 'neither the GET nor a forged POST released anything');
  assert.equal((await arrivalsOf('HOLDME alice one')).length, before);

  // The user: confirmation page, then the button.
  const p = await ctx.newPage();
  const first = await p.goto(releaseOne);
  assert.equal(first?.status(), 200);
  await p.getByRole('heading', { name: 'Release this message to your inbox?' }).waitFor();
  assert.ok(await p.getByText('HOLDME alice one').isVisible(), 'the page names the message');
  await screenshot(p, 'portal-link-confirm');
  await p.getByRole('button', { name: 'Release it' }).click();
  await p.getByText('Released: the message is on its way to your inbox.').waitFor();
  await screenshot(p, 'portal-link-done');
  await eventually(async () => ((await arrivalsOf('HOLDME alice one')).length ? true : null), 30_000, 'the released message at the sink');
  await new Promise((r) => setTimeout(r, 2000));
  const arrived = await arrivalsOf('HOLDME alice one');
  assert.equal(arrived.length, 1, 'exactly one copy arrived');
  assert.deepEqual(arrived[0]!.to, ['alice@example.com']);
  assert.equal(await recipientState(a2.id, 'alice@example.com'), 'held', 'the other message stays held');
  assert.equal(await recipientState(b1.id, 'bob@example.com'), 'held', "bob's message stays held");

  // Replay: the same link again.
  const replay = await p.goto(releaseOne);
  assert.equal(replay?.status(), 410);
  await p.getByRole('heading', { name: 'This link was already used' }).waitFor();
  await screenshot(p, 'portal-link-used');

  // Alice's link bent to bob's message: the signature no longer matches.
  const token = new URL(releaseTwo).pathname.split('/').pop()!;
  const [v, payload, sig] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { q: string };
  const bent = `${v}.${Buffer.from(JSON.stringify({ ...claims, q: b1.id })).toString('base64url')}.${sig}`;
  const r1 = await p.goto(`${gw.baseUrl}/portal/link/${bent}`);
  assert.equal(r1?.status(), 400);
  await p.getByRole('heading', { name: 'This link is not valid' }).waitFor();
  assert.doesNotMatch(await p.content(), /HOLDME bob/, 'nothing about the other message');
  // Tampered: one character of the signature changed.
  const tampered = `${v}.${payload}.${sig!.slice(0, -2)}${sig!.endsWith('AA') ? 'BB' : 'AA'}`;
  const r2 = await p.goto(`${gw.baseUrl}/portal/link/${tampered}`);
  assert.equal(r2?.status(), 400);
  await p.getByRole('heading', { name: 'This link is not valid' }).waitFor();
  await screenshot(p, 'portal-link-invalid');
  // Expired: a genuine link (signed with the install's key) past its expiry.
  const cfg = loadConfig(gw.dataDir);
  const signer = await LinkSigner.open(gw.db, loadMasterKey(cfg.masterKeyFile));
  const expired = signer.sign({ quarantineId: a2.id, recipient: 'alice@example.com', action: 'release', expiresAt: Date.now() - 60_000 });
  const r3 = await p.goto(`${gw.baseUrl}/portal/link/${expired}`);
  assert.equal(r3?.status(), 410);
  await p.getByRole('heading', { name: 'This link has expired' }).waitFor();
  await screenshot(p, 'portal-link-expired');
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await recipientState(a2.id, 'alice@example.com'), 'held', 'no bad link released anything');
  assert.equal(await recipientState(b1.id, 'bob@example.com'), 'held', 'no bad link released anything');
  assert.equal((await arrivalsOf('HOLDME bob one')).length + (await arrivalsOf('HOLDME alice two')).length, 0, 'nothing else arrived');

  // The use is in the audit log and in the message's trace.
  const audit = await gw.db.selectFrom('audit_log').selectAll().where('action', '=', 'quarantine.release').where('target_id', '=', a1.id).execute();
  assert.equal(audit.length, 1, 'one audit entry');
  assert.equal(audit[0]!.actor_name, 'link:alice@example.com');
  const trace = (await gw.db.selectFrom('events').select('type').where('message_id', '=', a1.message_id).orderBy('id').execute()).map((e) => e.type);
  assert.ok(trace.includes('quarantine-released') && trace.includes('link-used'), `trace: ${trace.join(', ')}`);
  // The digest itself is traced (created, signed, queued, delivered).
  const digestTrace = await gw.db.selectFrom('events').select(['message_id', 'type', 'detail']).where('type', '=', 'created').execute();
  assert.equal(digestTrace.filter((e) => (e.detail ?? '').includes('"kind":"digest"')).length, 2, 'two digests traced');
  await ctx.close();
});
