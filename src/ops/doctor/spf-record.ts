// Each relay domain publishes exactly one SPF record (RFC 7208 §4.5: two are a permerror),
// and it appears to allow this gateway to send for it.
import { finding, type DoctorCheck } from './finding.ts';
import { lookupTxt } from './txt.ts';

export const spfRecordCheck: DoctorCheck = async ({ config, dns, domains }) => {
  let myAddresses: string[] = [];
  try {
    myAddresses = await dns.a(config.hostname);
  } catch {
    /* reported by the reverse-dns check */
  }
  return Promise.all(
    domains.map(async ({ domain }) => {
      const fix = `Publish one TXT record at ${domain}: "v=spf1 mx a:${config.hostname} -all" (see "hermes dns records ${domain}").`;
      const txt = await lookupTxt(dns, domain);
      if (!txt.ok) return finding('spf', domain, 'fail', `TXT lookup failed: ${txt.error}`, 'Check the DNS servers and the domain\'s name servers.');
      const spf = txt.records.filter((r) => /^v=spf1(\s|$)/i.test(r));
      if (!spf.length) return finding('spf', domain, 'fail', 'no SPF record: receivers cannot tell this gateway may send for the domain', fix);
      if (spf.length > 1) return finding('spf', domain, 'fail', `${spf.length} SPF records (a permanent error for every receiver)`, 'Merge them into one TXT record.');
      const record = spf[0]!;
      const terms = record.toLowerCase().split(/\s+/);
      const names = [`a:${config.hostname.toLowerCase()}`, ...myAddresses.map((ip) => `ip4:${ip}`)];
      const allowsUs = terms.some((t) => /^[+]?(mx|a)$/.test(t) || names.includes(t.replace(/^\+/, '')) || /^(include:|redirect=)/.test(t));
      if (!allowsUs) return finding('spf', domain, 'warn', `"${record}" does not name this gateway (${config.hostname})`, `Add "a:${config.hostname}" (or its address) before the "all" term.`);
      return finding('spf', domain, 'ok', record);
    }),
  );
};
