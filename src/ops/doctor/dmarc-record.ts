// Each relay domain publishes a DMARC policy at _dmarc.<domain>.
import { finding, type DoctorCheck } from './finding.ts';
import { lookupTxt } from './txt.ts';

export const dmarcRecordCheck: DoctorCheck = async ({ dns, domains }) =>
  Promise.all(
    domains.map(async ({ domain }) => {
      const name = `_dmarc.${domain}`;
      const txt = await lookupTxt(dns, name);
      if (!txt.ok) return finding('dmarc', domain, 'fail', `TXT lookup at ${name} failed: ${txt.error}`, 'Check the DNS servers and the domain\'s name servers.');
      const dmarc = txt.records.filter((r) => /^v=DMARC1\s*(;|$)/i.test(r));
      const fix = `Publish at ${name} a TXT record such as "v=DMARC1; p=quarantine; rua=mailto:postmaster@${domain}" (start with p=none while you watch the reports).`;
      if (!dmarc.length) return finding('dmarc', domain, 'warn', 'no DMARC record: receivers apply no policy to mail forged in this domain\'s name', fix);
      if (dmarc.length > 1) return finding('dmarc', domain, 'fail', `${dmarc.length} DMARC records (receivers ignore them all)`, 'Keep one.');
      const p = /(?:^|;)\s*p\s*=\s*(\w+)/i.exec(dmarc[0]!)?.[1]?.toLowerCase();
      if (!p || !['none', 'quarantine', 'reject'].includes(p)) return finding('dmarc', domain, 'fail', `"${dmarc[0]}" has no valid p= tag`, fix);
      return finding('dmarc', domain, 'ok', dmarc[0]!);
    }),
  );
