// Backup of a running gateway under load, restored into a new data directory and started
// on other ports: every message that got a 250 is delivered by the first gateway or by
// the restored one (none lost), a held message is released from the restored instance,
// and the restored DKIM key still signs (dkimpy verifies against the record published
// for the original). A wrong passphrase or a changed byte restores nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestGateway, eventually, runCli, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { findPython } from '../helpers/authvectors.ts';
import { dkimpyVerify } from '../helpers/dkimpy.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { loadConfig } from '../../src/config/bootstrap.ts';
import { openQuarantine } from '../../src/quarantine/open-quarantine.ts';
import { newQueueId } from '../../src/spool/queue-id.ts';
import { listKeys } from '../../src/services/dkim-service.ts';
import { cliActor } from '../../src/services/actor.ts';

const python = findPython(['dkim']);
let work: string;
let sink: SmtpSink;
let a: TestGateway;
let b: TestGateway | undefined;
const passFile = () => join(work, 'passphrase');

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'hermes-backup-test-'));
  writeFileSync(passFile(), 'correct horse battery staple\n', { mode: 0o600 });
  // The sink is down while the first gateway takes mail: everything stays queued there.
  sink = await startSmtpSink();
  await sink.stop();
  a = await createTestGateway();
  await upsertRelayDomain(a.db, { domain: 'example.com', nextHop: `127.0.0.1:${sink.port}` });
  for (const args of [['network', 'add', '127.0.0.2/32'], ['dkim', 'generate', 'example.org', '--selector', 'bk1']]) {
    const r = await a.cli(args);
    assert.equal(r.code, 0, r.stderr);
  }
  const q = openQuarantine({ db: a.db, config: loadConfig(a.dataDir) });
  await q.store.hold({
    messageId: newQueueId(),
    receivedAt: new Date(),
    mailFrom: 'seller@outside.test',
    recipients: ['bob@example.com'],
    category: 'spam',
    score: 9.1,
    symbols: [],
    reason: 'spam score 9.1 >= 5 (policy default)',
    message: [Buffer.from('From: seller@outside.test\r\nTo: bob@example.com\r\nSubject: held before the backup\r\n\r\nCheap watches.\r\n')],
  });
  await q.close();
  await a.start();
});

after(async () => {
  await b?.cleanup();
  await a?.cleanup();
  await sink?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function send(port: number, subject: string, from = 'ann@outside.test', localAddress?: string) {
  return sendMessage(port, { from, to: ['bob@example.com'] }, simpleMessage({ from, to: 'bob@example.com', subject }), localAddress ? { localAddress } : {});
}

test('backup under load, restore elsewhere: no acknowledged message lost, quarantine and DKIM keys come back', async () => {
  const acked: string[] = [];
  for (let i = 0; i < 20; i++) if ((await send(a.port, `before-${i}`)).ok) acked.push(`before-${i}`);
  assert.equal(acked.length, 20, 'the first gateway takes mail');

  // Four senders keep going for as long as the backup runs.
  let backingUp = true;
  const senders = [0, 1, 2, 3].map(async (s) => {
    for (let i = 0; backingUp; i++) {
      const subject = `during-${s}-${i}`;
      if ((await send(a.port, subject)).ok) acked.push(subject);
    }
  });
  const file = join(work, 'gateway.hbk');
  const backup = await a.cli(['backup', file, '--passphrase-file', passFile()]);
  backingUp = false;
  await Promise.all(senders);
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stderr, /^database: snapshot of/m, 'progress: the database');
  assert.match(backup.stderr, /^spool: \d+ files/m, 'progress: the spool');
  assert.match(backup.stderr, /^done: \d+ files/m, 'progress: the total');
  assert.ok(acked.length > 20, `mail was sent during the backup (${acked.length} acknowledged)`);
  assert.doesNotMatch(readFileSync(file).subarray(0, 4096).toString('latin1'), /BEGIN|hermes\.db|example\.org/, 'nothing readable in the file but its header');

  // Restoring with the wrong passphrase, or from a file with one changed byte, leaves nothing.
  writeFileSync(join(work, 'wrong'), 'not the passphrase at all\n');
  const wrong = await runCli(['restore', file, '--data-dir', join(work, 'nope'), '--passphrase-file', join(work, 'wrong')]);
  assert.notEqual(wrong.code, 0, 'a wrong passphrase fails');
  assert.match(wrong.stderr, /wrong passphrase: nothing restored/);
  assert.equal(existsSync(join(work, 'nope')), false, 'nothing left behind');
  const bytes = readFileSync(file);
  bytes[bytes.length - 200] = bytes[bytes.length - 200]! ^ 1;
  writeFileSync(join(work, 'changed.hbk'), bytes);
  const changed = await runCli(['restore', join(work, 'changed.hbk'), '--data-dir', join(work, 'nope'), '--passphrase-file', passFile()]);
  assert.notEqual(changed.code, 0, 'a changed byte fails');
  assert.match(changed.stderr, /the backup file is damaged or was changed .*: nothing restored/);
  assert.equal(existsSync(join(work, 'nope')), false, 'nothing left behind after a changed byte');

  const restoredDir = join(work, 'restored');
  const restore = await runCli(['restore', file, '--data-dir', restoredDir, '--passphrase-file', passFile()]);
  assert.equal(restore.code, 0, restore.stderr);
  assert.match(restore.stdout, /restored into/);

  // Both gateways run now, the restored one on its own ports; the sink comes back.
  b = await createTestGateway({ dataDir: restoredDir });
  await sink.restart();
  await b.start();
  // Both queues were deferred while the sink was down: try them now rather than at the next backoff.
  for (const gw of [a, b]) {
    const r = await gw.cli(['queue', 'retry', '--all']);
    assert.equal(r.code, 0, r.stderr);
  }
  let missing: string[] = acked;
  await eventually(async () => {
    const subjects = new Set((await sink.messages()).map((m) => /^Subject: (.*)$/m.exec(m.raw.toString('latin1'))?.[1]?.trim()));
    missing = acked.filter((s) => !subjects.has(s));
    return missing.length === 0 ? true : null;
  }, 180_000, 'every acknowledged message at the sink').catch(() => {});
  assert.deepEqual(missing, [], `none lost (of ${acked.length} acknowledged)`);

  // The restored instance holds the quarantined message and releases it.
  const list = await b.cli(['quarantine', 'list']);
  assert.equal(list.code, 0, list.stderr);
  const heldId = /^(\S{8,})\s/m.exec(list.stdout.split('\n').slice(1).join('\n'))?.[1];
  assert.ok(heldId, `a held message in the restored quarantine: ${list.stdout}`);
  const rel = await b.cli(['quarantine', 'release', heldId, '--recipient', 'bob@example.com']);
  assert.equal(rel.code, 0, rel.stderr);
  await eventually(async () => (await sink.messages()).find((m) => m.raw.includes('Subject: held before the backup')) ?? null, 60_000, 'the released message at the sink');

  // The restored key signs: dkimpy checks it against the record the original published.
  assert.ok(python, 'Python with the dkim module (Debian python3-dkim) is installed by scripts/install-peers.sh');
  const key = (await listKeys(a.db, cliActor(), 'example.org'))[0]!;
  const out = await send(b.port, 'signed after restore', 'ann@example.org', '127.0.0.2');
  assert.ok(out.ok, JSON.stringify(out));
  const signed = await eventually(async () => (await sink.messages()).find((m) => m.raw.includes('Subject: signed after restore')) ?? null, 60_000, 'the outbound message at the sink');
  const verdict = dkimpyVerify(python!, signed.raw, { [`${key.selector}._domainkey.example.org`]: key.dnsValue });
  assert.deepEqual(verdict.dkim.filter((d) => d.d === 'example.org').map((d) => d.ok), [true], JSON.stringify(verdict));
});
