// Refusing a blocklisted client in the session (setting dnsbl.rejectZones): when the
// client IP is listed in one of those zones, 554 5.7.1 naming the zone, as Postfix's
// reject_rbl_client does. Used as a pipeline stage (refusal at DATA, before any content
// check runs) and, through dnsblRejection(), by an SMTP listener at RCPT.
import type { Settings } from '../../../config/settings.ts';
import type { SmtpReply, Stage } from '../../context.ts';
import { isLookupableIp, ipQueryPrefix, lookupLists, type ALookup, type ListReport } from './lookup.ts';
import type { DnsListZone } from './zones.ts';

type DnsblSettings = Pick<Settings, 'dnsbl.enabled' | 'dnsbl.ipZones' | 'dnsbl.budgetMs' | 'dnsbl.rejectZones'>;

export interface DnsblRejection {
  reply: SmtpReply | null;
  report: ListReport | null;
}

/** The refusal for a client, or reply null (not listed, off, or the lists did not answer). */
export async function dnsblRejection(ip: string, s: DnsblSettings, lookup: ALookup): Promise<DnsblRejection> {
  const zones = s['dnsbl.rejectZones'].map((z) => z.toLowerCase());
  if (!s['dnsbl.enabled'] || !zones.length || !isLookupableIp(ip)) return { reply: null, report: null };
  // Any answer of the zone's configured entries counts; a zone not among dnsbl.ipZones counts on any 127.x answer.
  const entries: DnsListZone[] = zones.flatMap((z) => {
    const configured = s['dnsbl.ipZones'].filter((e) => e.zone.toLowerCase() === z);
    return configured.length ? configured : [{ zone: z, symbol: 'DNSBL_REJECT', weight: 0 }];
  });
  const report = await lookupLists([ip], entries, ipQueryPrefix, lookup, s['dnsbl.budgetMs']);
  const hit = report.hits[0];
  if (!hit) return { reply: null, report };
  return {
    reply: { code: 554, enhanced: '5.7.1', message: `Service unavailable; client host [${ip}] blocked using ${hit.entry.zone}` },
    report,
  };
}

export function dnsblRejectStage(o: { lookup: ALookup; settings: () => DnsblSettings }): Stage {
  return {
    name: 'dnsbl-reject',
    async run(ctx) {
      if (ctx.client.trusted) return;
      const { reply, report } = await dnsblRejection(ctx.client.ip, o.settings(), o.lookup);
      if (!report) return;
      if (reply || report.problems.length) {
        ctx.trace('dnsbl', {
          listed: report.hits.map((h) => `${h.entry.zone} (${h.answer})`),
          ...(report.problems.length ? { skipped: report.problems.map((p) => `${p.zone}: ${p.kind}${p.detail ? ` ${p.detail}` : ''}`) } : {}),
        });
      }
      if (reply) ctx.reject = reply;
    },
  };
}
