// Malware and banned attachments end to end through SMTP: swaks sends to a running
// gateway that scans with a real clamd (private instance, local EICAR signature) and
// relays to Postfix's smtp-sink. Malware and an executable disguised as a PDF are
// refused in the session; clean mail is delivered; with clamd stopped, mail gets the
// configured temporary failure (451) or, with malware.onError=accept, goes through.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { runSwaks, startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { startClamd, TEST_SIGNATURE, type Clamd } from '../helpers/clamd.ts';
import { composeMessage, EICAR_FILE, makeZip, peExecutable, type Part } from '../helpers/attachments.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSettings, setSetting } from '../../src/config/settings.ts';

let gw: TestGateway;
let sink: SmtpSink;
let clamd: Clamd;

before(async () => {
  clamd = await startClamd();
  sink = await startSmtpSink();
  gw = await createTestGateway();
  await upsertRelayDomain(gw.db, { domain: 'corp.test', nextHop: `127.0.0.1:${sink.port}` });
  await setSettings(gw.db, { 'malware.clamd': clamd.unix, 'malware.timeoutMs': 60_000 });
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
  await clamd?.stop();
  clamd?.cleanup();
});

async function send(subject: string, attachments: Part[]) {
  const raw = await composeMessage({ subject, text: 'Hello Bob,\n\nthe documents we talked about are attached.\n\nRegards,\nAlice', attachments });
  const r = await runSwaks(['--server', `127.0.0.1:${gw.port}`, '--from', 'sender@example.org', '--to', 'rcpt@corp.test', '--data', '-', '--hide-informational'], { stdin: raw });
  // swaks prints the server's lines as "<-  250 ..." ("<** 550 ..." for errors); the DATA reply is the last before QUIT's 221.
  const replies = r.stdout.split('\n').filter((l) => /^<(-|\*\*)\s/.test(l) && !/\s221\s/.test(l));
  return { out: r.stdout + r.stderr, dataReply: replies.at(-1) ?? '' };
}

test('EICAR as an attachment and inside a zip is refused in the session with 550 (found by clamd and the built-in check)', async () => {
  const direct = await send('eicar direct', [{ filename: 'eicar.com', content: EICAR_FILE }]);
  assert.match(direct.dataReply, /550 5\.7\.1 .*malware/i, direct.out);
  const zipped = await send('eicar zipped', [{ filename: 'tools.zip', content: makeZip([{ name: 'eicar.txt', data: EICAR_FILE }]) }]);
  assert.match(zipped.dataReply, /550 5\.7\.1 .*malware/i, zipped.out);
  // Both engines named: clamd's signature for the message, the built-in check's with the file.
  assert.ok(direct.dataReply.includes(`Eicar-Test-Signature in eicar.com, ${TEST_SIGNATURE} in message`), direct.dataReply);
  assert.ok(zipped.dataReply.includes(`Eicar-Test-Signature in tools.zip/eicar.txt, ${TEST_SIGNATURE} in message`), zipped.dataReply);
});

test('an executable renamed to .pdf is refused as a banned attachment; a real PDF is delivered', async () => {
  const disguised = await send('invoice', [{ filename: 'invoice.pdf', content: peExecutable(), contentType: 'application/pdf' }]);
  assert.match(disguised.dataReply, /^<\*\* 5\d\d 5\.7\.\d .*invoice\.pdf/, disguised.out);
  const before = await sink.count();
  const clean = await send('real invoice', [{ filename: 'invoice.pdf', content: '%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n', contentType: 'application/pdf' }]);
  assert.match(clean.dataReply, /250 2\.6\.0 Ok: queued as/, clean.out);
  await sink.waitForCount(before + 1, 30_000);
});

test('clamd stopped: mail gets 451 (malware.onError=tempfail, the default); with onError=accept it is delivered', async () => {
  await clamd.stop();
  const down = await send('while clamd is down', [{ filename: 'notes.txt', content: 'nothing to see' }]);
  assert.match(down.dataReply, /451 4\.7\.1 /, down.out);
  await setSetting(gw.db, 'malware.onError', 'accept');
  const before = await sink.count();
  const accepted = await send('accepted unscanned', [{ filename: 'notes.txt', content: 'nothing to see' }]);
  assert.match(accepted.dataReply, /250 2\.6\.0 Ok: queued as/, accepted.out);
  await sink.waitForCount(before + 1, 30_000);
});
