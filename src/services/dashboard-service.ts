// The dashboard: messages by verdict over time, top senders and recipients, queue and
// quarantine sizes, and setup nudges (what an admin should still do). Domain
// administrators see the figures of their domains.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Db } from '../db/database.ts';
import { relayDomainCount, sendingDomainsWithoutDkim } from '../db/repos/dashboard.ts';
import { queueSize } from '../db/repos/queue.ts';
import { quarantineSize } from '../db/repos/quarantine.ts';
import { topAddresses, verdictBuckets } from '../db/repos/trace.ts';
import { assertCan, type Actor } from './actor.ts';
import { invalid } from './validation.ts';

export interface DashboardOptions {
  /** Host name and certificate from the bootstrap file, for the nudges. */
  hostname?: string;
  certFile?: string;
  hours?: number;
  bucketMinutes?: number;
  now?: number;
}

export interface Nudge {
  code: 'placeholder-hostname' | 'self-signed-certificate' | 'no-relay-domain' | 'no-dkim-key';
  message: string;
}

export interface DashboardStats {
  from: string;
  to: string;
  bucketMinutes: number;
  /** One entry per bucket, oldest first: counts per verdict (per recipient; rejected per message). */
  traffic: Array<{ start: string; counts: Record<string, number> }>;
  topSenders: Array<{ address: string; messages: number }>;
  topRecipients: Array<{ address: string; messages: number }>;
  queue: { messages: number; recipients: number; deferred: number };
  quarantine: { held: number; bytes: number } | null;
  nudges: Nudge[];
}

/** Names an installer leaves in place: localhost, bare host names, example and test domains. */
export function isPlaceholderHostname(h: string): boolean {
  const n = h.toLowerCase().replace(/\.$/, '');
  return !n.includes('.') || /(^|\.)(localhost|localdomain|local|example|invalid|test|lan|home|internal)$/.test(n) || /(^|\.)example\.(com|net|org)$/.test(n);
}

async function isSelfSigned(certFile: string): Promise<boolean> {
  try {
    const c = new X509Certificate(await readFile(certFile));
    return c.issuer === c.subject && c.checkIssued(c);
  } catch {
    return false;
  }
}

export async function setupNudges(db: Db, o: DashboardOptions, now: number): Promise<Nudge[]> {
  const nudges: Nudge[] = [];
  if (o.hostname && isPlaceholderHostname(o.hostname)) {
    nudges.push({ code: 'placeholder-hostname', message: `the host name "${o.hostname}" is a placeholder: set the name your MX record points to ("hermes init --hostname mx.your-domain") so peers and TLS certificates match` });
  }
  if (o.certFile && (await isSelfSigned(o.certFile))) {
    nudges.push({ code: 'self-signed-certificate', message: 'the TLS certificate is the self-signed one "init" made: install a certificate from a CA (for example Let\'s Encrypt) at the configured tls.cert path' });
  }
  if ((await relayDomainCount(db)) === 0) {
    nudges.push({ code: 'no-relay-domain', message: 'no relay domain yet: the gateway accepts no mail for anyone; add your domain under Domains ("hermes domain add your-domain --next-hop mail.internal")' });
  }
  for (const d of await sendingDomainsWithoutDkim(db, now - 7 * 86_400_000)) {
    nudges.push({ code: 'no-dkim-key', message: `${d} sends mail out but has no DKIM key: create one ("hermes dkim generate ${d}") and publish its DNS record` });
  }
  return nudges;
}

export async function dashboardStats(db: Db, actor: Actor, o: DashboardOptions = {}): Promise<DashboardStats> {
  assertCan(actor, 'dashboard.read');
  const hours = o.hours ?? 24;
  const bucketMinutes = o.bucketMinutes ?? 60;
  if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 90) throw invalid('hours', 'hours must be a whole number from 1 to 2160');
  if (!Number.isInteger(bucketMinutes) || bucketMinutes < 1 || (hours * 60) / bucketMinutes > 1000) throw invalid('bucketMinutes', 'bucketMinutes must be a whole number, at most 1000 buckets in the period');
  const bucketMs = bucketMinutes * 60_000;
  const now = o.now ?? Date.now();
  const toMs = Math.ceil(now / bucketMs) * bucketMs;
  const fromMs = toMs - hours * 3_600_000;
  const scope = actor.domains ?? undefined;
  const [buckets, senders, recipients, queue, quarantine] = await Promise.all([
    verdictBuckets(db, { fromMs, toMs, bucketMs, ...(scope ? { scope } : {}) }),
    topAddresses(db, { by: 'sender', fromMs, limit: 10, ...(scope ? { scope } : {}) }),
    topAddresses(db, { by: 'recipient', fromMs, limit: 10, ...(scope ? { scope } : {}) }),
    queueSize(db, scope),
    // The quarantine's size across all domains is not a domain administrator's business.
    scope ? Promise.resolve(null) : quarantineSize(db),
  ]);
  const traffic = Array.from({ length: Math.round((toMs - fromMs) / bucketMs) }, (_, i) => ({ start: new Date(fromMs + i * bucketMs).toISOString(), counts: {} as Record<string, number> }));
  for (const b of buckets) {
    const t = traffic[b.bucket];
    if (t) t.counts[b.verdict] = (t.counts[b.verdict] ?? 0) + b.n;
  }
  return {
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    bucketMinutes,
    traffic,
    topSenders: senders.map((s) => ({ address: s.address, messages: s.n })),
    topRecipients: recipients.map((s) => ({ address: s.address, messages: s.n })),
    queue,
    quarantine,
    nudges: actor.domains === null ? await setupNudges(db, o, now) : [],
  };
}
