// Allow and block list matching. Levels, most specific first: the recipient's own list,
// its domain's list, the global list. The first level with a match decides; within a
// level an allow entry wins over a block entry (an admin who lists both meant the
// exception). The global allow-all list skips every check for every recipient.
//
// Senders are matched by envelope sender (MAIL FROM), client network, and the From
// header; an allow entry matches the From header only when DMARC passed for its domain,
// so a forged From cannot walk past the filters. Block entries match any of them.
import type { FilterListKind, FilterListName } from '../../db/schema.ts';
import { NetworkSet } from '../../smtp/cidr.ts';

export interface ListEntry {
  list: FilterListName;
  owner: string;
  kind: FilterListKind;
  value: string;
}

/** One list (a name and an owner): addresses, domains (with subdomains) and networks. */
class ListSet {
  readonly addresses = new Set<string>();
  readonly domains = new Set<string>();
  readonly cidrs: string[] = [];
  #networks: NetworkSet | null = null;

  add(e: ListEntry): void {
    if (e.kind === 'address') this.addresses.add(e.value);
    else if (e.kind === 'domain') this.domains.add(e.value);
    else this.cidrs.push(e.value);
  }

  matchAddress(addr: string): string | null {
    if (!addr) return null;
    if (this.addresses.has(addr)) return addr;
    let d = addr.slice(addr.lastIndexOf('@') + 1);
    while (d) {
      if (this.domains.has(d)) return d;
      const dot = d.indexOf('.');
      d = dot < 0 ? '' : d.slice(dot + 1);
    }
    return null;
  }

  matchIp(ip: string): string | null {
    if (!this.cidrs.length || !ip) return null;
    this.#networks ??= new NetworkSet(this.cidrs);
    return this.#networks.contains(ip) ? `network of ${ip}` : null;
  }
}

export interface ListSubject {
  /** Envelope sender ('' for the null sender). */
  mailFrom: string;
  clientIp: string;
  /** The From header addresses. */
  fromAddresses: string[];
  /** From domain whose DMARC result is pass, if any. */
  dmarcPassDomain?: string | null;
  recipients: string[];
}

export interface RecipientListResult {
  /** Why this recipient's mail skips the spam checks, or null. */
  skipSpam: string | null;
  /** Why mail to this recipient is refused, or null. */
  block: string | null;
}

export interface ListVerdict {
  /** Why every check is skipped (global allow-all), or null. */
  allowAll: string | null;
  /** Keyed by lowercase recipient address. */
  recipients: Map<string, RecipientListResult>;
}

const lower = (s: string) => s.toLowerCase();

export class FilterLists {
  readonly #sets = new Map<string, ListSet>();
  readonly size: number;

  constructor(entries: readonly ListEntry[]) {
    for (const e of entries) {
      const key = `${e.list}\u0000${e.owner}`;
      let s = this.#sets.get(key);
      if (!s) this.#sets.set(key, (s = new ListSet()));
      s.add(e);
    }
    this.size = entries.length;
  }

  #set(list: FilterListName, owner: string): ListSet | undefined {
    return this.#sets.get(`${list}\u0000${owner}`);
  }

  #senderMatch(set: ListSet | undefined, s: ListSubject, forAllow: boolean, listLabel: string): string | null {
    if (!set) return null;
    const env = set.matchAddress(lower(s.mailFrom));
    if (env) return `envelope sender matches ${listLabel} entry ${env}`;
    const net = set.matchIp(s.clientIp);
    if (net) return `client ${s.clientIp} matches ${listLabel} network`;
    for (const f of s.fromAddresses) {
      const a = lower(f);
      const domain = a.slice(a.lastIndexOf('@') + 1);
      if (forAllow && (!s.dmarcPassDomain || domain !== lower(s.dmarcPassDomain))) continue;
      const m = set.matchAddress(a);
      if (m) return `From ${a} matches ${listLabel} entry ${m}${forAllow ? ' (DMARC pass)' : ''}`;
    }
    return null;
  }

  /**
   * At RCPT time (envelope and client known, headers not yet): the block of the
   * recipient's own list or its domain's, if the most specific matching level blocks.
   * Global entries are left to the lists stage at DATA, where the whole message is
   * refused at once and traced.
   */
  blockAtRcpt(s: Pick<ListSubject, 'mailFrom' | 'clientIp'>, rcpt: string): string | null {
    if (!this.size) return null;
    const subject: ListSubject = { ...s, fromAddresses: [], recipients: [rcpt] };
    if (this.#senderMatch(this.#set('allow-all', ''), subject, true, 'global allow-all')) return null;
    const addr = lower(rcpt);
    const domain = addr.slice(addr.lastIndexOf('@') + 1);
    for (const [owner, label] of [[addr, `${addr}'s`], [domain, `${domain}'s`]] as const) {
      if (this.#senderMatch(this.#set('allow', owner), subject, true, `${label} allow`) || this.#set('recipient-allow', owner)?.matchAddress(addr)) return null;
      const block = this.#senderMatch(this.#set('block', owner), subject, false, `${label} block`);
      if (block) return block;
    }
    return null;
  }

  evaluate(s: ListSubject): ListVerdict {
    const allowAll = this.size ? this.#senderMatch(this.#set('allow-all', ''), s, true, 'global allow-all') : null;
    const recipients = new Map<string, RecipientListResult>();
    for (const r of s.recipients) {
      const addr = lower(r);
      const res: RecipientListResult = { skipSpam: null, block: null };
      if (this.size) {
        const domain = addr.slice(addr.lastIndexOf('@') + 1);
        for (const [owner, label] of [[addr, `${addr}'s`], [domain, `${domain}'s`], ['', 'global']] as const) {
          const allow = this.#senderMatch(this.#set('allow', owner), s, true, `${label} allow`);
          const rcptAllow = this.#set('recipient-allow', owner)?.matchAddress(addr);
          if (allow || rcptAllow) {
            res.skipSpam = allow ?? `recipient matches ${label} recipient-allow entry ${rcptAllow}`;
            break;
          }
          const block = this.#senderMatch(this.#set('block', owner), s, false, `${label} block`);
          if (block) {
            res.block = block;
            break;
          }
        }
      }
      recipients.set(addr, res);
    }
    return { allowAll, recipients };
  }
}
