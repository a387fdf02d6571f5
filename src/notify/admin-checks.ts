// Admin notifications: mail to notify.adminAddress when the queue grows old, the TLS
// certificate nears its expiry, clamd or an external engine does not answer, or the
// spool's disk is filling. Each cause (check + subject) mails at most once a day while
// it lasts (notifications_sent); release requests are mailed at once by the portal.
import { readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { Settings } from '../config/settings.ts';
import { claimNotification } from '../db/repos/portal-users.ts';
import { queueStats } from '../db/repos/queue-stats.ts';
import { enginesCheck } from '../ops/doctor/engines.ts';
import type { DoctorContext } from '../ops/doctor/finding.ts';
import { buildPlainMail } from './compose.ts';
import { senderAddress, type NotifyContext } from './context.ts';
import { withJobLock, type JobOutcome } from './job-lock.ts';

export interface AdminAlert {
  /** Stable: one mail per key per day. */
  key: string;
  subject: string;
  text: string;
}

const DAY = 86_400_000;

export async function findAdminAlerts(c: Pick<NotifyContext, 'db' | 'certFile' | 'spoolDir'>, s: Settings, now = Date.now()): Promise<AdminAlert[]> {
  const out: AdminAlert[] = [];
  const q = await queueStats(c.db);
  if (q.oldestReceivedAt !== null && now - q.oldestReceivedAt > s['notify.queueAgeMinutes'] * 60_000) {
    const minutes = Math.round((now - q.oldestReceivedAt) / 60_000);
    out.push({
      key: 'queue-age',
      subject: `Mail queue: the oldest message has waited ${minutes} minutes`,
      text: `${q.pendingMessages} messages (${q.pendingRecipients} recipients) are waiting; the oldest for ${minutes} minutes (threshold: notify.queueAgeMinutes = ${s['notify.queueAgeMinutes']}).\n\nSee why with "hermes queue list" and "hermes trace <id>", or "hermes doctor".`,
    });
  }
  try {
    const cert = new X509Certificate(readFileSync(c.certFile));
    const days = Math.floor((Date.parse(cert.validTo) - now) / DAY);
    if (days < s['notify.certificateDays']) {
      out.push({
        key: 'certificate',
        subject: days < 0 ? 'TLS certificate has expired' : `TLS certificate expires in ${days} days`,
        text: `The certificate ${c.certFile} is valid until ${cert.validTo}${days < 0 ? ' and has expired' : ` (${days} days left)`}.\n\nRenew it (or install one from a public CA), then restart the gateway.`,
      });
    }
  } catch (err) {
    out.push({ key: 'certificate', subject: 'TLS certificate cannot be read', text: `Reading ${c.certFile} failed: ${(err as Error).message}` });
  }
  const findings = await enginesCheck({ settings: s, probeTimeoutMs: 5000, now } as DoctorContext);
  for (const f of findings.filter((x) => x.status === 'fail')) {
    out.push({ key: `engine:${f.subject}`, subject: `Scanning engine down: ${f.subject}`, text: `${f.subject} ${f.message}\n\n${f.fix ?? ''}` });
  }
  try {
    const fs = await statfs(c.spoolDir);
    const share = fs.blocks ? (fs.bavail / fs.blocks) * 100 : 0;
    if (share < s['notify.diskFreePercent']) {
      out.push({
        key: 'disk',
        subject: `Disk filling: ${share.toFixed(1)}% free on the spool's filesystem`,
        text: `${Math.round((fs.bavail * fs.bsize) / 1048576)} MB (${share.toFixed(1)}%) are free on the filesystem of ${c.spoolDir} (threshold: notify.diskFreePercent = ${s['notify.diskFreePercent']}). Below spool.minFreeBytes the gateway refuses new mail with 452.`,
      });
    }
  } catch (err) {
    out.push({ key: 'disk', subject: 'Spool filesystem cannot be inspected', text: `statfs ${c.spoolDir} failed: ${(err as Error).message}` });
  }
  return out;
}

/** Sends one admin notification now (release requests and the checks below). */
export async function mailAdmins(c: NotifyContext, subject: string, text: string, kind = 'admin-notification'): Promise<string | null> {
  const s = await c.settings();
  const to = s['notify.adminAddress'];
  if (!to) return null;
  const from = senderAddress(s, c.hostname);
  const message = await buildPlainMail({ from, to, subject: `[${c.hostname}] ${subject}`, text, hostname: c.hostname });
  return c.mailer.send({ from, to: [to], message, kind, detail: { subject } });
}

export async function runAdminChecks(c: NotifyContext, now = Date.now()): Promise<JobOutcome<{ alerts: string[]; sent: string[] }>> {
  return withJobLock(c.db, 'admin-checks', c.holder, async () => {
    const s = await c.settings();
    if (!s['notify.adminAddress']) return { alerts: [], sent: [] };
    const alerts = await findAdminAlerts(c, s, now);
    const sent: string[] = [];
    for (const a of alerts) {
      if (!(await claimNotification(c.db, `admin:${a.key}`, now - DAY, now))) continue;
      await mailAdmins(c, a.subject, a.text);
      sent.push(a.key);
    }
    return { alerts: alerts.map((a) => a.key), sent };
  });
}
