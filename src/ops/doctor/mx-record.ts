// Each relay domain's published MX points at this gateway (its host name), so mail for
// the domain reaches it.
import { finding, isNoRecord, type DoctorCheck } from './finding.ts';

export const mxRecordCheck: DoctorCheck = async ({ config, dns, domains }) => {
  const me = config.hostname.toLowerCase();
  return Promise.all(
    domains.map(async ({ domain }) => {
      const fix = `Publish "${domain}. MX 10 ${me}." (see "hermes dns records ${domain}").`;
      try {
        const mx = (await dns.mx(domain)).sort((a, b) => a.priority - b.priority);
        const hosts = mx.map((r) => `${r.priority} ${r.exchange}`).join(', ');
        if (!mx.length) return finding('mx', domain, 'fail', 'no MX record', fix);
        if (!mx.some((r) => r.exchange.toLowerCase().replace(/\.$/, '') === me)) {
          return finding('mx', domain, 'warn', `MX is ${hosts}: none of them is this gateway (${me})`, `${fix} Ignore this if another gateway in front relays to this one.`);
        }
        return finding('mx', domain, 'ok', `MX ${hosts}`);
      } catch (err) {
        if (isNoRecord(err)) return finding('mx', domain, 'fail', 'no MX record', fix);
        return finding('mx', domain, 'fail', `MX lookup failed: ${(err as { code?: string }).code}`, 'Check the DNS servers (see the dns finding) and the domain\'s name servers.');
      }
    }),
  );
};
