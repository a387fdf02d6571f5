// For each active DKIM key (it signs), the TXT at <selector>._domainkey.<domain> carries
// that key's public key: otherwise every signature made with it fails at the receiver.
import { finding, type DoctorCheck } from './finding.ts';
import { lookupTxt } from './txt.ts';

/** The p= tag of a DKIM key record, whitespace removed (it may be split across strings). */
export function dkimPublicKey(record: string): string | null {
  const tag = record
    .split(';')
    .map((t) => t.trim())
    .find((t) => /^p\s*=/i.test(t));
  return tag === undefined ? null : tag.replace(/^p\s*=/i, '').replace(/\s+/g, '');
}

export const dkimRecordCheck: DoctorCheck = async ({ dns, domains, dkimKeys }) => {
  const out = [];
  for (const { domain } of domains) {
    const keys = dkimKeys.filter((k) => k.domain === domain);
    if (!keys.length) {
      out.push(finding('dkim', domain, 'warn', 'no active DKIM key: outbound mail from this domain is not signed', `Run "hermes dkim add ${domain}" and publish the record it prints, then activate it.`));
      continue;
    }
    for (const key of keys) {
      const name = `${key.selector}._domainkey.${domain}`;
      const fix = `Publish at ${name} the TXT record "${key.dns_txt}" (see "hermes dns records ${domain}").`;
      const txt = await lookupTxt(dns, name);
      if (!txt.ok) {
        out.push(finding('dkim', name, 'fail', `TXT lookup failed: ${txt.error}`, 'Check the DNS servers and the domain\'s name servers.'));
        continue;
      }
      const want = dkimPublicKey(key.dns_txt);
      const published = txt.records.map(dkimPublicKey).filter((p): p is string => p !== null);
      if (!published.length) out.push(finding('dkim', name, 'fail', 'no DKIM key record: signatures with this key fail at every receiver', fix));
      else if (want === null || !published.includes(want)) out.push(finding('dkim', name, 'fail', 'the published key is not the key this gateway signs with', fix));
      else out.push(finding('dkim', name, 'ok', `published key matches (${key.algorithm})`));
    }
  }
  return out;
};
