// Proves the real-peer helpers work: smtp-sink (dump and count modes), smtp-source,
// swaks and a private stock Postfix relay. Everything on 127.0.0.1, free ports.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  findFreePort,
  isGone,
  parseSinkDump,
  runSmtpSource,
  runSwaks,
  startPostfixRelay,
  startSmtpSink,
  type SmtpSink,
} from '../helpers/peers.ts';

describe('real peers', () => {
  let tmp: string;
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'hermes-peers-test-'));
    await fsp.chmod(tmp, 0o755); // the Postfix daemons (user postfix) must reach their queue
  });
  after(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  test('findFreePort returns distinct usable ports', async () => {
    const a = await findFreePort();
    const b = await findFreePort();
    assert.ok(a > 0 && b > 0);
  });

  test('parseSinkDump rebuilds envelope and CRLF message', () => {
    const dump = Buffer.from(
      'X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\nX-Helo-Args: client.test\n' +
        'X-Mail-Args: <a@b.test> BODY=8BITMIME\nX-Rcpt-Args: <c@d.test>\nX-Rcpt-Args: <e@f.test> NOTIFY=NEVER\n' +
        'Received: from client.test ([127.0.0.1])\n\tby smtp-sink (smtp-sink) with ESMTP id 1234abcd;\n' +
        '\tSat, 21 Nov 2026 19:15:05 +0000 (UTC)\nSubject: x\n\nline 1\n.dot\n\n',
    );
    const m = parseSinkDump(dump);
    assert.equal(m.from, 'a@b.test');
    assert.deepEqual(m.to, ['c@d.test', 'e@f.test']);
    assert.equal(m.helo, 'client.test');
    assert.equal(m.raw.toString(), 'Subject: x\r\n\r\nline 1\r\n.dot\r\n');
  });

  test('swaks → smtp-sink: messages() returns envelope and body', async () => {
    const sink = await startSmtpSink();
    try {
      const body = 'First line\n.starts with a dot\nLast line';
      const r = await runSwaks([
        '--server', `127.0.0.1:${sink.port}`,
        '--helo', 'client.test',
        '--from', 'alice@sender.test',
        '--to', 'bob@example.com,carol@example.com',
        '--header', 'Subject: peers test',
        '--body', body,
      ]);
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      assert.equal(await sink.waitForCount(1, 5000), 1);
      const msgs = await sink.messages();
      assert.equal(msgs.length, 1);
      const m = msgs[0]!;
      assert.equal(m.from, 'alice@sender.test');
      assert.deepEqual(m.to, ['bob@example.com', 'carol@example.com']);
      assert.equal(m.helo, 'client.test');
      assert.equal(m.clientAddr, '127.0.0.1');
      const text = m.raw.toString('utf8');
      assert.match(text, /^Subject: peers test\r$/m);
      assert.ok(text.includes('\r\n\r\nFirst line\r\n.starts with a dot\r\nLast line\r\n'), JSON.stringify(text));
      assert.ok(!/[^\r]\n/.test(text), 'every line ends in CRLF');
    } finally {
      await sink.stop();
    }
  });

  test('smtp-sink hardReject RCPT answers 5xx and keeps nothing', async () => {
    const sink = await startSmtpSink({ hardReject: ['RCPT'] });
    try {
      const r = await runSwaks(['--server', `127.0.0.1:${sink.port}`, '--from', 'a@sender.test', '--to', 'b@example.com']);
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stdout, /<\*\* +5\d\d /);
      assert.equal(await sink.count(), 0);
      assert.deepEqual(await sink.messages(), []);
    } finally {
      await sink.stop();
    }
  });

  test('smtp-source 50 messages in 5 sessions → sink counts 50; stop/restart keep port, dumps and count', async () => {
    let sink: SmtpSink | undefined = await startSmtpSink();
    try {
      const r = await runSmtpSource({
        host: '127.0.0.1', port: sink.port, messages: 50, sessions: 5, sizeBytes: 2048,
        from: 'sender@sender.test', to: 'rcpt@example.com',
      });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(await sink.waitForCount(50, 10_000), 50);
      const msgs = await sink.messages();
      assert.equal(msgs.length, 50);
      assert.ok(msgs.every((m) => m.from === 'sender@sender.test' && m.to[0] === 'rcpt@example.com'));
      assert.ok(msgs.every((m) => m.raw.length >= 2048));

      const port = sink.port;
      await sink.restart();
      assert.equal(sink.port, port);
      const r2 = await runSmtpSource({
        host: '127.0.0.1', port, messages: 5, sessions: 1, sizeBytes: 100,
        from: 'sender@sender.test', to: 'rcpt@example.com',
      });
      assert.equal(r2.exitCode, 0, r2.stderr);
      assert.equal(await sink.waitForCount(55, 10_000), 55);
      assert.equal((await sink.messages()).length, 55);

      // stop() keeps dumps and count (an outage); restart() brings it back on the same port.
      await sink.stop();
      assert.equal(sink.pid, undefined);
      assert.equal((await sink.messages()).length, 55);
      await sink.restart();
      assert.equal(await sink.count(), 55);
      const r3 = await runSwaks(['--server', `127.0.0.1:${port}`, '--from', 'a@sender.test', '--to', 'b@example.com']);
      assert.equal(r3.exitCode, 0, r3.stdout);
      assert.equal(await sink.waitForCount(56, 5000), 56);
    } finally {
      await sink?.stop();
      sink = undefined;
    }
  });

  test('smtp-sink countOnly mode counts 20 parallel sessions', async () => {
    const sink = await startSmtpSink({ countOnly: true });
    try {
      const r = await runSmtpSource({
        host: '127.0.0.1', port: sink.port, messages: 200, sessions: 20, sizeBytes: 10240,
        from: 'sender@sender.test', to: 'rcpt@example.com', reuseConnection: true,
      });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(await sink.waitForCount(200, 10_000), 200);
      await assert.rejects(sink.messages());
    } finally {
      await sink.stop();
    }
  });

  test('private stock Postfix relays 20 smtp-source messages to the sink', async () => {
    const sink = await startSmtpSink();
    const listenPort = await findFreePort();
    const relay = await startPostfixRelay({
      listenPort,
      relayDomain: 'example.com',
      nextHop: { host: '127.0.0.1', port: sink.port },
      workDir: path.join(tmp, 'postfix'),
    });
    const pids = relay.pids();
    try {
      assert.ok(pids.includes(relay.masterPid));
      const r = await runSmtpSource({
        host: '127.0.0.1', port: listenPort, messages: 20, sessions: 5, sizeBytes: 4096,
        from: 'sender@sender.test', to: 'rcpt@example.com',
      });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(await sink.waitForCount(20, 30_000), 20);
      const msgs = await sink.messages();
      assert.equal(msgs.length, 20);
      for (const m of msgs) {
        assert.equal(m.from, 'sender@sender.test');
        assert.deepEqual(m.to, ['rcpt@example.com']);
        assert.match(m.raw.toString('latin1'), /^Received: from \S+ \(localhost \[127\.0\.0\.1\]\)\r\n\tby relay\.test\.local \(Postfix\)/);
      }
      assert.ok((await fsp.readFile(relay.logFile, 'utf8')).includes('status=sent'), 'Postfix logs to its maillog_file');
      // Delivered mail leaves the queue (qmgr removes it right after the sink's 250).
      const deadline = Date.now() + 5000;
      while ((await relay.queueSize()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(await relay.queueSize(), 0);
    } finally {
      await relay.stop();
      await sink.stop();
    }
    assert.ok([...pids, relay.masterPid].every(isGone), 'every Postfix process is gone');
  });
});
