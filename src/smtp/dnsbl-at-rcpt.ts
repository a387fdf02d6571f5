// Refusing a blocklisted client (setting dnsbl.rejectZones) at its first RCPT instead of
// after it sent the whole message: one lookup per SMTP session, the answer kept for its
// later recipients and transactions. A list that does not answer refuses nobody here;
// the DATA-time stage (dnsblRejectStage) asks again and stays the fallback.
import type { Settings } from '../config/settings.ts';
import type { SmtpReply } from '../pipeline/context.ts';
import { dnsblRejection, type ALookup } from '../pipeline/filter/dnsbl/index.ts';

type DnsblSettings = Pick<Settings, 'dnsbl.enabled' | 'dnsbl.ipZones' | 'dnsbl.budgetMs' | 'dnsbl.rejectZones'>;

export class SessionDnsblCheck {
  #answer: Promise<SmtpReply | null> | null = null;

  constructor(
    private readonly ip: string,
    private readonly lookup: ALookup,
  ) {}

  /** The refusal for this session's client, or null; looked up on the first call only. */
  refusal(s: DnsblSettings): Promise<SmtpReply | null> {
    if (!s['dnsbl.enabled'] || !s['dnsbl.rejectZones'].length) return Promise.resolve(null);
    this.#answer ??= dnsblRejection(this.ip, s, this.lookup).then(
      (r) => r.reply,
      () => null,
    );
    return this.#answer;
  }
}
