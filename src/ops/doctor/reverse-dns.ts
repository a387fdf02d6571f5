// The host name resolves, and each of its addresses has a PTR back to it (forward-
// confirmed reverse DNS): many receivers refuse or junk mail from addresses without it.
import { finding, isNoRecord, type DoctorCheck } from './finding.ts';

export const reverseDnsCheck: DoctorCheck = async ({ config, dns }) => {
  const host = config.hostname.toLowerCase();
  let addresses: string[];
  try {
    addresses = await dns.a(host);
  } catch (err) {
    const why = isNoRecord(err) ? 'has no A record' : `cannot be resolved (${(err as { code?: string }).code})`;
    return [finding('reverse-dns', host, 'fail', `the host name ${why}`, `Publish "${host}. A <the gateway's public address>", or set hostname in hermes.json to the name that does resolve.`)];
  }
  return Promise.all(
    addresses.map(async (ip) => {
      const fix = `Ask whoever owns ${ip} (your hosting provider) to set its PTR record to ${host}.`;
      try {
        const names = (await dns.ptr(ip)).map((n) => n.toLowerCase().replace(/\.$/, ''));
        if (names.includes(host)) return finding('reverse-dns', ip, 'ok', `${ip} → ${host}`);
        return finding('reverse-dns', ip, 'fail', `PTR of ${ip} is ${names.join(', ') || 'empty'}, not ${host}`, fix);
      } catch (err) {
        const why = isNoRecord(err) ? 'no PTR record' : `PTR lookup failed (${(err as { code?: string }).code})`;
        return finding('reverse-dns', ip, 'fail', `${ip}: ${why}`, fix);
      }
    }),
  );
};
