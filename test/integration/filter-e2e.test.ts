// Content filtering end to end through SMTP: a gateway whose Bayes classifier was
// trained with `hermes bayes learn` on part of the SpamAssassin corpus receives held-out
// spam and ham from the corpus; policies, assignments and lists are set with the CLI;
// smtp-sink stands for the mail server behind the gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { queueId, sendMessage } from '../helpers/smtp-probe.ts';
import { arrivedAtSink, messageEvents } from '../helpers/message-trace.ts';
import { addRelayNetwork, upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';
import { composeMessage, EICAR_FILE } from '../helpers/attachments.ts';
import { SqlBayesStore } from '../../src/db/repos/bayes-store.ts';
import { Bayes, SpamEngine } from '../../src/pipeline/filter/spam/index.ts';

const CORPUS = '/work/shared/corpus/spamassassin';
const TRAIN = 250; // of each class: above the 200 the classifier needs before it scores

const OUR_SERVER = '127.0.0.2';

let gw: TestGateway;
let sink: SmtpSink;
let spamSample: Buffer;
let hamSample: Buffer;

const files = (dir: string) => readdirSync(join(CORPUS, dir)).filter((f) => !f.startsWith('.')).sort().map((f) => join(CORPUS, dir, f));

/** A corpus file as it would arrive by SMTP: without the mbox "From " line, CRLF line ends. */
function wire(file: string): Buffer {
  const text = readFileSync(file, 'latin1').replace(/^From [^\n]*\n/, '');
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** The same message with a marker header on top, so it can be found at the sink and is a new message each time. */
function marked(raw: Buffer, marker: string): Buffer {
  return Buffer.concat([Buffer.from(`X-Test-Marker: ${marker}\r\n`), Buffer.from(raw.toString('latin1').replace(/^Message-ID:[^\r]*\r\n/im, `Message-ID: <${marker}@test>\r\n`), 'latin1')]);
}

const arrived = (marker: string) => arrivedAtSink(sink, marker);

const events = (id: string) => messageEvents(gw, id);

async function cli(...args: string[]): Promise<string> {
  const r = await gw.cli(args);
  assert.equal(r.code, 0, `hermes ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  sink = await startSmtpSink();
  gw = await createTestGateway();
  await upsertRelayDomain(gw.db, { domain: 'corp.test', nextHop: `127.0.0.1:${sink.port}` });
  // 127.0.0.2 is one of our own servers (relay network); its outbound mail goes to the sink as smarthost.
  await addRelayNetwork(gw.db, `${OUR_SERVER}/32`);
  await setSetting(gw.db, 'delivery.smarthost', `127.0.0.1:${sink.port}`);
  const spam = files('spam');
  const ham = files('ham').filter((f) => f.includes('easy_ham'));
  const learnSpam = await cli('bayes', 'learn', '--spam', ...spam.slice(0, TRAIN));
  assert.match(learnSpam, new RegExp(`${TRAIN}/${TRAIN} messages  learned ${TRAIN}`));
  const learnHam = await cli('bayes', 'learn', '--ham', ...ham.slice(0, TRAIN));
  assert.match(learnHam, /Bayes now: 250 spam, 250 ham, \d+ tokens; scoring/);

  // Held-out samples the trained engine finds clearly spam and clearly ham (scored here
  // with the gateway's own Bayes tables), so the test does not hang on one borderline message.
  const engine = new SpamEngine({ bayes: new Bayes(new SqlBayesStore(gw.db)) });
  const score = async (raw: Buffer) => (await engine.scan({ raw, parsed: await PostalMime.parse(raw) })).score;
  for (const f of spam.slice(TRAIN)) {
    const raw = wire(f);
    if ((await score(raw)) >= 8 && raw.length < 20_000) {
      spamSample = raw;
      break;
    }
  }
  for (const f of ham.slice(TRAIN)) {
    const raw = wire(f);
    if ((await score(raw)) < 0.5) {
      hamSample = raw;
      break;
    }
  }
  assert.ok(spamSample && hamSample, 'found held-out samples');

  await cli('filter-policy', 'add', 'lenient', '--tag', '1', '--quarantine', '50', '--reject', 'off', '--subject-tag', '[SPAM?]');
  await cli('filter-policy', 'add', 'nochecks', '--spam-checks', 'off');
  await cli('filter-policy', 'add', 'strict', '--tag', '1', '--quarantine', '2', '--reject', '3');
  await cli('filter-policy', 'assign', 'carol@corp.test', 'lenient');
  await cli('filter-policy', 'assign', 'dave@corp.test', 'nochecks');
  await cli('filter-policy', 'assign', 'ceo@corp.test', 'strict');
  await cli('filter-policy', 'add', 'dropper', '--spam', 'discard');
  await cli('filter-policy', 'assign', 'erin@corp.test', 'dropper');
  // The classifier stays as trained here (autolearn is covered by unit tests), so counts are exact.
  await cli('settings', 'set', 'spam.autolearn', 'false');
  await cli('lists', 'add', 'block', 'bad.example');
  await cli('lists', 'add', 'allow', 'friend@partner.example');
  await cli('lists', 'add', 'block', 'pushy.example', '--for', 'alice@corp.test');
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
});

test('a spam sample is quarantined: 250 to the client, nothing delivered, held in the quarantine store, fate in the trace', async () => {
  const r = await sendMessage(gw.port, { from: 'promo@sender.example', to: ['alice@corp.test'] }, marked(spamSample, 'spam-held'));
  assert.equal(r.code, 250, r.response);
  const id = queueId(r);
  const ev = await eventually(async () => ((await events(id)).some((e) => e.type === 'quarantined') ? events(id) : null), 15_000, 'trace');
  const spam = ev.find((e) => e.type === 'spam')!;
  assert.ok(spam.detail.score >= 5, `score ${spam.detail.score}`);
  assert.match(spam.detail.symbols, /BAYES_/);
  const fate = ev.find((e) => e.type === 'policy')!;
  assert.equal(fate.recipient, 'alice@corp.test');
  assert.equal(fate.detail.fate, 'quarantined');
  assert.equal(fate.detail.policy, 'default');
  const held = await gw.db.selectFrom('quarantine').selectAll().where('message_id', '=', id).execute();
  assert.equal(held.length, 1);
  assert.equal(held[0]!.category, 'spam');
  assert.match(held[0]!.reason, /spam score [\d.]+ >= 5 \(policy default\)/);
  const msg = await gw.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  assert.equal(msg.state, 'done');
});

test('a ham sample is delivered with X-Spam-Score and X-Spam-Status, untagged', async () => {
  const r = await sendMessage(gw.port, { from: 'user@lists.example', to: ['alice@corp.test'] }, marked(hamSample, 'ham-ok'));
  assert.equal(r.code, 250, r.response);
  const m = await arrived('ham-ok');
  // Sent after the held spam sample, delivered: so by now that one would have been delivered too.
  assert.equal((await sink.messages()).filter((x) => x.raw.includes('spam-held')).length, 0);
  const head = m.raw.toString('latin1').split('\r\n\r\n')[0]!;
  assert.match(head, /^X-Spam-Score: -?[\d.]+$/m);
  assert.match(head, /^X-Spam-Status: No, score=-?[\d.]+ tests=/m);
  assert.doesNotMatch(head, /X-Spam-Flag|SUSPECTED SPAM/);
  const fate = (await events(queueId(r))).find((e) => e.type === 'policy')!;
  assert.equal(fate.detail.fate, 'delivered');
});

test('headers that came with inbound mail claiming our verdicts (X-Spam-*, X-Hermes-*) are removed; ours replace them', async () => {
  const forged = 'X-Spam-Flag: NO\r\nX-Spam-Status: No, score=-100\r\nX-Spam-Report: \r\n\t* -100 ALL_TRUSTED\r\nX-Hermes-Rule: vip-sender\r\nX-Hermes-Auth: pass\r\n';
  const r = await sendMessage(gw.port, { from: 'user@lists.example', to: ['alice@corp.test'] }, Buffer.concat([Buffer.from(forged), marked(hamSample, 'forged-verdicts')]));
  assert.equal(r.code, 250, r.response);
  const head = (await arrived('forged-verdicts')).raw.toString('latin1').split('\r\n\r\n')[0]!;
  assert.doesNotMatch(head, /score=-100|ALL_TRUSTED|X-Spam-Report|X-Spam-Flag: NO|X-Hermes/i);
  assert.equal(head.match(/^X-Spam-Status:/gm)?.length, 1, 'only our X-Spam-Status');
  assert.match(head, /^X-Spam-Score: -?[\d.]+$/m);
});

test('a blocked sender is refused in the session with 554 5.7.1', async () => {
  const r = await sendMessage(gw.port, { from: 'someone@mail.bad.example', to: ['alice@corp.test'] }, marked(hamSample, 'blocked'));
  assert.equal(r.code, 554, r.response);
  assert.match(r.response, /5\.7\.1 Message refused: the sender is blocked/);
  const row = await eventually(() => gw.db.selectFrom('events').select(['message_id', 'detail']).where('type', '=', 'lists').orderBy('id', 'desc').executeTakeFirst(), 10_000, 'lists trace');
  assert.match(row.detail!, /global block entry bad.example/);
});

test('an allowed sender skips the spam checks: the spam sample is delivered untagged', async () => {
  const r = await sendMessage(gw.port, { from: 'friend@partner.example', to: ['alice@corp.test'] }, marked(spamSample, 'allowed'));
  assert.equal(r.code, 250, r.response);
  const m = await arrived('allowed');
  const head = m.raw.toString('latin1').split('\r\n\r\n')[0]!;
  assert.match(head, /^X-Spam-Status: No, skipped \(envelope sender matches global allow entry friend@partner.example\)$/m);
  assert.doesNotMatch(head, /X-Spam-Flag|SUSPECTED SPAM/);
});

test('per-recipient policies split one message: held for one, tagged copy for one, clean copy for one', async () => {
  const r = await sendMessage(gw.port, { from: 'promo@sender.example', to: ['alice@corp.test', 'carol@corp.test', 'dave@corp.test'] }, marked(spamSample, 'split'));
  assert.equal(r.code, 250, r.response);
  const id = queueId(r);
  await eventually(async () => (await sink.messages()).filter((m) => m.raw.includes('split')).length === 2, 20_000, 'two copies at the sink');
  const copies = (await sink.messages()).filter((m) => m.raw.includes('split'));
  const carol = copies.find((m) => m.to.includes('carol@corp.test'))!;
  const dave = copies.find((m) => m.to.includes('dave@corp.test'))!;
  assert.deepEqual(carol.to, ['carol@corp.test']);
  assert.deepEqual(dave.to, ['dave@corp.test']);
  // carol's policy tags at 1 and quarantines at 50: in between, tagging is headers only.
  assert.doesNotMatch(carol.raw.toString('latin1'), /^Subject: \[SPAM\?\] /m, 'subject tagged only from the quarantine level');
  assert.match(carol.raw.toString('latin1'), /^X-Spam-Flag: YES/m);
  assert.doesNotMatch(dave.raw.toString('latin1'), /X-Spam-Flag|\[SPAM\?\]/);
  assert.ok(!copies.some((m) => m.to.includes('alice@corp.test')));

  const fates = Object.fromEntries((await events(id)).filter((e) => e.type === 'policy').map((e) => [e.recipient, `${e.detail.fate} (${e.detail.policy})`]));
  assert.deepEqual(fates, { 'alice@corp.test': 'quarantined (default)', 'carol@corp.test': 'tagged (lenient)', 'dave@corp.test': 'delivered (nochecks)' });
  // The second delivered copy is its own queue entry, linked to the message it was split from.
  const child = await gw.db.selectFrom('messages').selectAll().where('parent_id', '=', id).execute();
  assert.equal(child.length, 1);
  const childRcpts = await gw.db.selectFrom('recipients').select('address').where('message_id', '=', child[0]!.id).execute();
  assert.deepEqual(childRcpts.map((x) => x.address), ['dave@corp.test']);
  assert.ok((await events(child[0]!.id)).some((e) => e.type === 'split' && e.detail.parent === id));
  assert.ok((await events(id)).some((e) => e.type === 'copy' && e.detail.queueId === child[0]!.id && e.detail.recipients[0] === 'dave@corp.test'));
  // hermes trace names the link: a copy of the message (not a report on it, as for a DSN).
  const trace = await cli('trace', child[0]!.id);
  assert.match(trace, new RegExp(`^Copy of\\s+${id}$`, 'm'));
  assert.doesNotMatch(trace, /Report on/);
  assert.equal((await gw.db.selectFrom('quarantine').select('id').where('message_id', '=', id).execute()).length, 1);
});

test('when every recipient rejects, the client gets 550 5.7.1 with the reason', async () => {
  const r = await sendMessage(gw.port, { from: 'promo@sender.example', to: ['ceo@corp.test'] }, marked(spamSample, 'rejected'));
  assert.equal(r.code, 550, r.response);
  assert.match(r.response, /5\.7\.1 Message rejected as spam \(score [\d.]+\)/);
});

test('a discarding policy accepts the message and delivers nothing; the trace says discarded', async () => {
  const r = await sendMessage(gw.port, { from: 'promo@sender.example', to: ['erin@corp.test'] }, marked(spamSample, 'discarded'));
  assert.equal(r.code, 250, r.response);
  const id = queueId(r);
  const msg = await eventually(() => gw.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst(), 10_000, 'message record');
  assert.equal(msg.state, 'done');
  const fate = (await events(id)).find((e) => e.type === 'policy')!;
  assert.equal(fate.detail.fate, 'discarded');
  assert.equal((await gw.db.selectFrom('recipients').select('address').where('message_id', '=', id).execute()).length, 0);
  // The ham sent next arrives; the discarded message never does.
  const marker = 'after-discard';
  assert.equal((await sendMessage(gw.port, { from: 'user@lists.example', to: ['erin@corp.test'] }, marked(hamSample, marker))).code, 250);
  await arrived(marker);
  assert.equal((await sink.messages()).filter((m) => m.raw.includes('discarded')).length, 0);
});

test('CLI: clear errors, and bayes stats, learn and forget on an mbox', async () => {
  let r = await gw.cli(['bayes', 'learn', '/dev/null']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /say what the messages are: --spam or --ham/);
  r = await gw.cli(['lists', 'add', 'greylist', 'x.example']);
  assert.match(r.stderr, /unknown list "greylist": use one of allow-all, allow, recipient-allow, block/);
  r = await gw.cli(['filter-policy', 'set', 'default', '--spam', 'explode']);
  assert.match(r.stderr, /--spam must be one of deliver, tag, quarantine, reject, discard/);
  r = await gw.cli(['filter-policy', 'remove', 'strict']);
  assert.match(r.stderr, /policy strict is assigned \(recipient ceo@corp.test\); unassign it first/);

  assert.match(await cli('filter-policy', 'which', 'Carol@corp.test'), /carol@corp.test: policy lenient \(assigned to recipient carol@corp.test\)/);
  assert.match(await cli('filter-policy', 'which', 'zed@corp.test'), /policy default \(the default assignment\)/);
  assert.match(await cli('lists', 'check', '--from', 'x@mail.bad.example', '--to', 'alice@corp.test'), /alice@corp.test: blocked \(envelope sender matches global block entry bad.example\)/);

  const before = await cli('bayes', 'stats');
  const spamCount = Number(/spam messages +(\d+)/.exec(before)![1]);
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'hermes-mbox-'));
  try {
    const mboxText = [0, 1, 2].map((i) => `From x@y Mon Jan  1 00:00:0${i} 2024\nMessage-ID: <mbox-${i}@test>\nSubject: cheap pills ${i}\n\nbuy now ${i}\n`).join('\n');
    writeFileSync(join(dir, 'spam.mbox'), mboxText);
    assert.match(await cli('bayes', 'learn', '--spam', dir), /3\/3 messages  learned 3/);
    assert.match(await cli('bayes', 'stats'), new RegExp(`spam messages +${spamCount + 3} `));
    assert.match(await cli('bayes', 'forget', join(dir, 'spam.mbox')), /3\/3 messages  forgotten 3/);
    assert.match(await cli('bayes', 'stats'), new RegExp(`spam messages +${spamCount} `));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** nodemailer's SMTP client from a chosen local address (127.0.0.2: a relay network). */
const sendFrom = (localAddress: string, envelope: { from: string; to: string[] }, raw: Buffer) =>
  sendMessage(gw.port, envelope, raw, { localAddress, helo: 'app.corp.test' });

test('outbound mail from the relay networks: malware refused by the sender\'s policy, spam not scored, no X-Spam headers', async () => {
  const virus = await composeMessage({ subject: 'tools', attachments: [{ filename: 'eicar.com', content: EICAR_FILE }] });
  const refused = await sendFrom(OUR_SERVER, { from: 'alice@corp.test', to: ['partner@far.example'] }, virus);
  assert.equal(refused.code, 550, refused.response);
  assert.match(refused.response, /5\.7\.1 Message rejected: it contains malware/);

  const r = await sendFrom(OUR_SERVER, { from: 'alice@corp.test', to: ['partner@far.example'] }, marked(spamSample, 'outbound-spam'));
  assert.equal(r.code, 250, r.response);
  const m = await arrived('outbound-spam');
  assert.deepEqual(m.to, ['partner@far.example']);
  assert.doesNotMatch(m.raw.toString('latin1').split('\r\n\r\n')[0]!, /^X-Spam-/m);
  const ev = await events(queueId(r));
  assert.equal(ev.find((e) => e.type === 'spam'), undefined, 'not scanned (spam.scanOutbound is off)');
  assert.equal(ev.find((e) => e.type === 'policy')!.detail.via, 'default');
});

test("a recipient's own block list refuses only that recipient, at RCPT; the others get the message", async () => {
  const r = await sendMessage(gw.port, { from: 'sales@pushy.example', to: ['alice@corp.test', 'bob@corp.test'] }, marked(hamSample, 'pushy'));
  assert.equal(r.code, 250, r.response);
  const m = await arrived('pushy');
  assert.deepEqual(m.to, ['bob@corp.test']);
  const received = (await events(queueId(r))).find((e) => e.type === 'received')!;
  assert.deepEqual(received.detail.recipients, ['bob@corp.test']);
  assert.deepEqual(received.detail.rejectedRecipients, ['alice@corp.test']);
});
