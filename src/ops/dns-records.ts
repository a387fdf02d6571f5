// The DNS records a relay domain should publish for this gateway, made from what the
// gateway knows: its host name and addresses, the domain, its active DKIM keys. Used by
// `hermes dns records` and described in docs/admin-guide.md.
import { createHash } from 'node:crypto';
import type { DkimKeyRow } from '../db/schema.ts';

export interface DnsRecord {
  name: string;
  type: 'MX' | 'A' | 'AAAA' | 'PTR' | 'TXT';
  value: string;
  /** Why it is there, and who publishes it when it is not the domain's own zone. */
  comment: string;
}

export interface DomainRecordsInput {
  domain: string;
  hostname: string;
  /** The gateway's public addresses, when known (else placeholders are printed). */
  ipv4: string[];
  ipv6: string[];
  /** Keys whose record must be published: active ones, and pending/retiring ones still in use. */
  dkimKeys: Pick<DkimKeyRow, 'selector' | 'dns_txt' | 'status'>[];
  /** Where DMARC aggregate reports go (default postmaster@domain). */
  reportAddress?: string;
  mtaStsMode?: 'testing' | 'enforce';
}

export interface DomainRecords {
  records: DnsRecord[];
  /** The MTA-STS policy file to serve at https://mta-sts.<domain>/.well-known/mta-sts.txt */
  mtaStsPolicy: { url: string; text: string };
}

const dot = (n: string) => `${n.replace(/\.$/, '')}.`;

/** in-addr.arpa / ip6.arpa name of an address. */
export function reverseName(ip: string): string {
  if (ip.includes(':')) {
    const [head = '', tail = ''] = ip.split('::');
    const groups = (s: string) => (s ? s.split(':') : []);
    const h = groups(head);
    const t = groups(tail);
    const full = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].map((g) => g.padStart(4, '0')).join('');
    return `${[...full].reverse().join('.')}.ip6.arpa`;
  }
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

export function domainRecords(i: DomainRecordsInput): DomainRecords {
  const host = i.hostname.toLowerCase();
  const rua = i.reportAddress ?? `postmaster@${i.domain}`;
  const records: DnsRecord[] = [
    { name: dot(i.domain), type: 'MX', value: `10 ${dot(host)}`, comment: 'mail for the domain comes to this gateway' },
  ];
  const v4 = i.ipv4.length ? i.ipv4 : ['<public IPv4 address of this gateway>'];
  for (const ip of v4) records.push({ name: dot(host), type: 'A', value: ip, comment: 'the gateway host name (in its own zone)' });
  for (const ip of i.ipv6) records.push({ name: dot(host), type: 'AAAA', value: ip, comment: 'the gateway host name over IPv6' });
  for (const ip of [...i.ipv4, ...i.ipv6]) records.push({ name: dot(reverseName(ip)), type: 'PTR', value: dot(host), comment: 'reverse DNS: set by the owner of the address (hosting provider)' });
  if (!i.ipv4.length) records.push({ name: '<reverse name of the address>', type: 'PTR', value: dot(host), comment: 'reverse DNS: ask the owner of the address (hosting provider)' });
  records.push({ name: dot(i.domain), type: 'TXT', value: `v=spf1 mx a:${host} -all`, comment: 'SPF: only this gateway sends for the domain (add other senders before -all)' });
  for (const k of i.dkimKeys) {
    records.push({ name: dot(`${k.selector}._domainkey.${i.domain}`), type: 'TXT', value: k.dns_txt, comment: `DKIM key (${k.status})` });
  }
  records.push({ name: dot(`_dmarc.${i.domain}`), type: 'TXT', value: `v=DMARC1; p=none; rua=mailto:${rua}`, comment: 'DMARC: start with p=none, then quarantine or reject once the reports are clean' });
  const policyText = ['version: STSv1', `mode: ${i.mtaStsMode ?? 'testing'}`, `mx: ${host}`, 'max_age: 604800', ''].join('\r\n');
  // The id changes exactly when the policy text does, which is what senders look for.
  const id = createHash('sha256').update(policyText).digest('hex').slice(0, 16);
  records.push({ name: dot(`_mta-sts.${i.domain}`), type: 'TXT', value: `v=STSv1; id=${id}`, comment: 'MTA-STS: senders fetch the policy below and require TLS to the MX' });
  records.push({ name: dot(`_smtp._tls.${i.domain}`), type: 'TXT', value: `v=TLSRPTv1; rua=mailto:${rua}`, comment: 'TLS reporting: senders report TLS failures here' });
  return { records, mtaStsPolicy: { url: `https://mta-sts.${i.domain}/.well-known/mta-sts.txt`, text: policyText } };
}

/** Zone-file lines (TXT values quoted, long ones split into 255-byte strings). */
export function formatZone(records: DnsRecord[]): string {
  const quote = (v: string) => {
    const parts: string[] = [];
    for (let j = 0; j < v.length; j += 255) parts.push(`"${v.slice(j, j + 255)}"`);
    return parts.length > 1 ? `( ${parts.join(' ')} )` : parts[0]!;
  };
  return records.map((r) => `; ${r.comment}\n${r.name}\tIN\t${r.type}\t${r.type === 'TXT' ? quote(r.value) : r.value}`).join('\n');
}
