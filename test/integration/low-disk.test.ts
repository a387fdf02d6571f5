// A small spool filesystem (tmpfs) filling up: below the free-space reserve new mail gets
// 452 4.3.1 in plain words (no ENOSPC, no SQLite text), a truly full disk the same; what
// was acknowledged before is delivered once space returns, once each, without a restart.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestGateway, eventually } from '../helpers/gateway.ts';
import { startSmtpSink } from '../helpers/peers.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';
import { assertNoStrandedRecipients } from '../helpers/queue-watchdog.ts';

const MiB = 1024 * 1024;
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const freeBytes = (dir: string) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

/** Writes zeros to `file` until the filesystem has at most `leaveBytes` free (0: until ENOSPC). */
function fill(file: string, dir: string, leaveBytes: number): void {
  const fd = openSync(file, 'a');
  const chunk = Buffer.alloc(256 * 1024);
  try {
    while (freeBytes(dir) > leaveBytes) {
      const n = Math.min(chunk.length, Math.max(4096, freeBytes(dir) - leaveBytes));
      writeSync(fd, chunk, 0, n);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

test('low and full disk: 452 4.3.1 in plain text; acknowledged mail delivered once after space returns', async () => {
  const mnt = mkdtempSync(join(tmpdir(), 'hermes-lowdisk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mnt]);
  cleanups.push(async () => {
    execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });
  const sink = await startSmtpSink();
  cleanups.push(() => sink.stop());
  await sink.stop(); // the next hop is down while the disk fills: everything stays queued
  const gw = await createTestGateway({ parentDir: mnt });
  cleanups.push(() => gw.cleanup());
  await upsertRelayDomain(gw.db, { domain: 'example.com', nextHop: `127.0.0.1:${sink.port}` });
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 1, maximalBackoffSec: 2, queueLifetimeSec: 3600 });
  await setSetting(gw.db, 'spool.minFreeBytes', 8 * MiB);
  await gw.start();

  const acked: string[] = [];
  const send = async (tag: string) => {
    const r = await sendMessage(gw.port, { from: 'a@outside.test', to: ['disk@example.com'] }, simpleMessage({ from: 'a@outside.test', to: 'disk@example.com', subject: tag, messageId: `<${tag}@outside.test>` }));
    if (r.ok) acked.push(tag);
    return r;
  };
  for (let i = 0; i < 10; i++) assert.ok((await send(`before-${i}`)).ok);

  // Below the reserve, with space still left: refused before any write fails.
  const filler = join(mnt, 'filler');
  fill(filler, mnt, 4 * MiB);
  await new Promise((r) => setTimeout(r, 600)); // past the free-space look's cache
  const low = await send('while-low');
  assert.equal(low.ok, false);
  assert.match(low.response, /^452 4\.3\.1 Insufficient system storage/);
  await eventually(() => /below its free-space reserve/.test(gw.output()), 10_000, 'the admin notice in the log');

  // Completely full (the reserve eaten by something else): still a plain 452.
  fill(filler, mnt, 0);
  await new Promise((r) => setTimeout(r, 600));
  const full = await send('while-full');
  assert.equal(full.ok, false);
  assert.match(full.response, /^452 4\.3\.1 Insufficient system storage/);
  for (const r of [low, full]) assert.doesNotMatch(r.response, /ENOSPC|rollback|SQLITE|transaction/i);

  // Space returns, the next hop comes back: no restart.
  rmSync(filler);
  await sink.restart();
  await eventually(async () => (await send('after-space')).ok, 20_000, 'acceptance resuming');
  const delivered = await eventually(
    async () => {
      const tags = (await sink.messages()).map((m) => /Subject: (\S+)/.exec(m.raw.toString('latin1'))?.[1]);
      return acked.every((t) => tags.includes(t)) ? tags : null;
    },
    60_000,
    `all ${acked.length} acknowledged messages at the sink`,
  ).catch(async (err: Error) => {
    // What the queue and the gateway say, so a failure here can be understood from CI's log.
    const rows = await gw.db.selectFrom('recipients').select(['message_id', 'status', 'next_attempt_at', 'lease_owner', 'lease_until', 'last_reply']).execute();
    throw new Error(`${err.message}\nrecipients: ${JSON.stringify(rows)}\ngateway output:\n${gw.output().slice(-4000)}`);
  });
  for (const t of acked) assert.equal(delivered.filter((x) => x === t).length, 1, `${t} delivered exactly once`);
  assert.ok(!delivered.includes('while-low') && !delivered.includes('while-full'), 'refused mail was not delivered');
  await assertNoStrandedRecipients(gw.db);
  assert.equal(await gw.stop(), 0);
});
