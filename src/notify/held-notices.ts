// Immediate notices (Hermes #180): recipients whose filter policy is named in
// notify.heldNoticePolicies get a mail for each message held for them, with the same
// one-click links as the digest. The job's watermark is the newest hold it looked at,
// so a notice goes out once; on its first run it starts from now (no flood of old mail).
import { heldAfter, type HeldLine } from '../db/repos/digest.ts';
import { prefsFor } from '../db/repos/recipient-prefs.ts';
import { buildDigestMail } from './compose.ts';
import { portalBase, senderAddress, type NotifyContext } from './context.ts';
import { digestLine, signInLink } from './digest-job.ts';
import { withJobLock, type JobOutcome } from './job-lock.ts';

const BATCH = 500;

export async function runHeldNotices(c: NotifyContext, now = Date.now()): Promise<JobOutcome<{ sent: number; failed: number }>> {
  return withJobLock(c.db, 'held-notices', c.holder, async (job) => {
    const s = await c.settings();
    const wanted = new Set(s['notify.heldNoticePolicies']);
    if (job.row.watermark === null || !wanted.size) {
      // Off, or first run: nothing before now is noticed later.
      await job.setWatermark(now);
      return { sent: 0, failed: 0 };
    }
    const relay = await c.relayPolicy();
    const policies = await c.policies();
    const signer = await c.links();
    const base = portalBase(s, c.hostname, c.httpPort);
    const from = senderAddress(s, c.hostname);
    let mark = Number(job.row.watermark);
    let sent = 0;
    let failed = 0;
    for (;;) {
      const page: HeldLine[] = (await heldAfter(c.db, mark, BATCH)).filter((l) => l.held_at <= now);
      if (!page.length) break;
      // Several recipients of one hold share its held_at: a full page leaves out its last
      // instant, which the next page starts with, so nobody is noticed twice or skipped.
      const full = page.length === BATCH;
      const lines = full ? page.filter((l) => l.held_at < page[page.length - 1]!.held_at) : page;
      if (!lines.length) throw new Error(`more than ${BATCH} recipients held at one instant`);
      const prefs = await prefsFor(c.db, [...new Set(lines.map((l) => l.address))]);
      for (const l of lines) {
        if (!relay.domains.has(l.address.slice(l.address.lastIndexOf('@') + 1))) continue;
        if (!wanted.has(policies.resolve(l.address).policy.name)) continue;
        try {
          const message = await buildDigestMail({
            kind: 'notice',
            from,
            to: l.address,
            hostname: c.hostname,
            lines: [digestLine(signer, base, s, l, now)],
            more: 0,
            signInUrl: signInLink(signer, base, s, l.address, now),
            portalUrl: `${base}/portal/`,
            expiresHours: s['portal.linkHours'],
            language: prefs.get(l.address)?.language ?? s['digest.language'],
          });
          await c.mailer.send({ from, to: [l.address], message, kind: 'notice', detail: { quarantineId: l.id } });
          sent++;
        } catch (err) {
          failed++;
          c.log.error({ err, recipient: l.address, quarantineId: l.id }, 'held-message notice failed');
        }
      }
      mark = lines[lines.length - 1]!.held_at;
      await job.setWatermark(mark);
      await job.keepAlive();
      if (!full) break;
    }
    return { sent, failed };
  });
}
