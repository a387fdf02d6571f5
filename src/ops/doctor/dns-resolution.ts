// The configured DNS servers answer at all: a lookup of our own host name gets an answer
// (records or "no such name"), not a timeout or SERVFAIL. Everything else depends on it.
import { finding, isNoRecord, type DoctorCheck } from './finding.ts';

export const dnsResolutionCheck: DoctorCheck = async ({ config, dns }) => {
  const servers = config.dnsServers.length ? config.dnsServers.join(', ') : 'the system resolvers';
  try {
    await dns.a(config.hostname);
    return [finding('dns', servers, 'ok', `DNS answers (asked for ${config.hostname})`)];
  } catch (err) {
    if (isNoRecord(err)) return [finding('dns', servers, 'ok', `DNS answers (${config.hostname} has no A record, see reverse-dns)`)];
    return [
      finding('dns', servers, 'fail', `DNS lookups fail: ${(err as { code?: string }).code ?? (err as Error).message}`,
        'Make the DNS servers in dnsServers of hermes.json (or /etc/resolv.conf when empty) reachable; a validating local resolver such as unbound is best for a mail gateway.'),
    ];
  }
};
