// The quarantine digest job: for every recipient of a relay domain with inbound mail
// held since its last digest, and whose frequency (own choice, else digest.frequency)
// makes one due, one mail listing those messages with one-click links, then the
// recipient's last-digest time moves on. Nothing new held: no digest. Recipients are
// walked in pages of addresses (keyset); for each page one query returns at most
// MAX_LINES lines per address (and the count of the rest), so memory stays flat however
// many recipients there are and however much one of them has held.
// One node runs it at a time (job_runs lock).
import type { Settings } from '../config/settings.ts';
import { digestLinesFor, heldAddressesPage, type HeldLine } from '../db/repos/digest.ts';
import { markDigestsSent, prefsFor } from '../db/repos/recipient-prefs.ts';
import type { DigestFrequency } from '../db/schema.ts';
import { linkExpiry, type LinkAction, type LinkSigner } from '../portal/action-links.ts';
import { senderOf } from '../services/portal-service.ts';
import { buildDigestMail, type DigestLine } from './compose.ts';
import { portalBase, senderAddress, type NotifyContext } from './context.ts';
import { withJobLock, type JobOutcome } from './job-lock.ts';

export const PERIOD_MS: Record<Exclude<DigestFrequency, 'never'>, number> = { hourly: 3_600_000, daily: 86_400_000, weekly: 7 * 86_400_000 };
/** A run a little early (the timer's jitter) still counts: 2% of the period. */
const SLACK = 0.02;
/** At most this many messages are listed in one digest; the rest are counted ("... and N more"). */
export const MAX_LINES = 100;
const PAGE = 500;
const MARK_EVERY = 100;

export interface DigestProgress {
  recipientsSeen: number;
  digestsSent: number;
  messagesListed: number;
  skippedNotDue: number;
  skippedNothingNew: number;
  failed: number;
}

export interface DigestRunOptions {
  now?: number;
  /** Called after each page of recipients and every MARK_EVERY digests. */
  onProgress?: (p: DigestProgress) => void;
  /** Send to these recipients even if not due (tests, "hermes digest run --force"). */
  force?: boolean;
}

export function isDue(frequency: DigestFrequency, lastAt: number | null, now: number): boolean {
  if (frequency === 'never') return false;
  if (lastAt === null) return true;
  return now - lastAt >= PERIOD_MS[frequency] * (1 - SLACK);
}

/** The four action links of one held message for one recipient, and the recipient's sign-in link. */
export function actionLinks(signer: LinkSigner, base: string, s: Settings, line: Pick<HeldLine, 'id' | 'address' | 'held_at'>, now: number) {
  const expiresAt = linkExpiry(now, s['portal.linkHours'], line.held_at, s['quarantine.retentionDays']);
  const url = (action: LinkAction) => `${base}/portal/link/${signer.sign({ quarantineId: line.id, recipient: line.address, action, expiresAt })}`;
  return { release: url('release'), delete: url('delete'), allow: url('allow-sender'), block: url('block-sender') };
}

export function signInLink(signer: LinkSigner, base: string, s: Settings, address: string, now: number): string {
  return `${base}/portal/link/${signer.sign({ quarantineId: '', recipient: address, action: 'sign-in', expiresAt: now + s['portal.linkHours'] * 3_600_000 })}`;
}

export function digestLine(signer: LinkSigner, base: string, s: Settings, l: HeldLine, now: number): DigestLine {
  return {
    sender: l.header_from ?? senderOf(l) ?? '',
    subject: l.subject ?? '',
    receivedAt: l.received_at,
    category: l.category,
    score: l.score,
    links: actionLinks(signer, base, s, l, now),
    requestOnly: s['portal.requestOnlyCategories'].includes(l.category),
  };
}

export async function runDigests(c: NotifyContext, o: DigestRunOptions = {}): Promise<JobOutcome<DigestProgress>> {
  return withJobLock(c.db, 'digest', c.holder, async (job) => {
    const now = o.now ?? Date.now();
    const s = await c.settings();
    const relay = await c.relayPolicy();
    const signer = await c.links();
    const base = portalBase(s, c.hostname, c.httpPort);
    const from = senderAddress(s, c.hostname);
    const p: DigestProgress = { recipientsSeen: 0, digestsSent: 0, messagesListed: 0, skippedNotDue: 0, skippedNothingNew: 0, failed: 0 };
    let after = '';
    for (;;) {
      const addresses = (await heldAddressesPage(c.db, after, PAGE));
      if (!addresses.length) break;
      after = addresses[addresses.length - 1]!;
      p.recipientsSeen += addresses.length;
      const prefs = await prefsFor(c.db, addresses);
      const due = addresses.filter((a) => {
        if (!relay.domains.has(a.slice(a.lastIndexOf('@') + 1))) return false;
        const pref = prefs.get(a);
        const ok = o.force || isDue(pref?.digest_frequency ?? s['digest.frequency'], pref?.last_digest_at === undefined || pref?.last_digest_at === null ? null : Number(pref.last_digest_at), now);
        if (!ok) p.skippedNotDue++;
        return ok;
      });
      const { lines, totals } = await digestLinesFor(c.db, due, now, MAX_LINES);
      const byAddress = new Map<string, HeldLine[]>();
      for (const l of lines) {
        const list = byAddress.get(l.address);
        if (list) list.push(l);
        else byAddress.set(l.address, [l]);
      }
      const todo = due.filter((address) => {
        if (byAddress.has(address)) return true;
        p.skippedNothingNew++;
        return false;
      });
      let sent: string[] = [];
      // Marked sent in chunks: one write per MARK_EVERY digests. A crash before a chunk's
      // write sends those digests again on the next run (a duplicate, never a missed one).
      const flush = async () => {
        await markDigestsSent(c.db, sent, now);
        sent = [];
        await job.keepAlive();
        o.onProgress?.({ ...p });
      };
      // One at a time: the queue's writes (spool fsync, one database) serialise anyway, and
      // overlapping a few digests measured no faster (bench:portal-digest), only more memory.
      for (const address of todo) {
        const shown = byAddress.get(address)!;
        const total = totals.get(address) ?? shown.length;
        try {
          const message = await buildDigestMail({
            kind: 'digest',
            from,
            to: address,
            hostname: c.hostname,
            lines: shown.map((l) => digestLine(signer, base, s, l, now)),
            more: total - shown.length,
            signInUrl: signInLink(signer, base, s, address, now),
            portalUrl: `${base}/portal/`,
            expiresHours: s['portal.linkHours'],
            language: prefs.get(address)?.language ?? s['digest.language'],
          });
          await c.mailer.send({ from, to: [address], message, kind: 'digest', detail: { messages: total, quarantineIds: shown.map((l) => l.id) } });
          sent.push(address);
          p.digestsSent++;
          p.messagesListed += total;
          if (sent.length >= MARK_EVERY) await flush();
        } catch (err) {
          p.failed++;
          c.log.error({ err, recipient: address }, 'quarantine digest failed');
        }
      }
      await flush();
    }
    return p;
  });
}
