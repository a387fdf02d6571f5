// `hermes dns records <domain>`: what to publish in DNS for a relay domain.
import type { Command } from 'commander';
import { DnsResolver } from '../dns/resolver.ts';
import { listDkimKeys } from '../db/repos/dkim-keys.ts';
import { listRelayDomains, normaliseDomain } from '../db/repos/relay-policy.ts';
import { domainRecords, formatZone } from '../ops/dns-records.ts';
import { withDataDir, withDb } from './context.ts';

interface Options {
  dataDir: string;
  ipv4?: string[];
  ipv6?: string[];
  mtaSts: 'testing' | 'enforce';
  json?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerDnsRecords(program: Command): void {
  const dns = program.command('dns').description('DNS records for the relay domains');
  withDataDir(
    dns
      .command('records <domain>')
      .description('print the records to publish for a relay domain (MX, A/AAAA, PTR, SPF, DKIM, DMARC, MTA-STS)')
      .option('--ipv4 <address>', 'public IPv4 address of the gateway (repeatable; default: what its host name resolves to)', collect)
      .option('--ipv6 <address>', 'public IPv6 address of the gateway (repeatable)', collect)
      .option('--mta-sts <mode>', 'MTA-STS mode: testing or enforce', 'testing')
      .option('--json', 'print JSON'),
  ).action(async (domainIn: string, o: Options) => {
    if (o.mtaSts !== 'testing' && o.mtaSts !== 'enforce') throw new Error('--mta-sts must be "testing" or "enforce"');
    await withDb(o.dataDir, async (db, cfg) => {
      const domain = normaliseDomain(domainIn);
      if (!(await listRelayDomains(db)).some((d) => d.domain === domain)) throw new Error(`${domain} is not a relay domain: add it with "hermes domain add ${domain}"`);
      const resolver = new DnsResolver({ servers: cfg.dnsServers.length ? cfg.dnsServers : undefined, timeoutMs: 3000 });
      const lookup = async (f: () => Promise<string[]>) => f().catch(() => [] as string[]);
      const ipv4 = o.ipv4 ?? (await lookup(() => resolver.a(cfg.hostname)));
      const ipv6 = o.ipv6 ?? (await lookup(() => resolver.aaaa(cfg.hostname)));
      // A key is published from when it is added (pending) until its overlap ends (retiring).
      const keys = (await listDkimKeys(db, domain)).filter((k) => k.status !== 'retiring' || k.remove_after === null || Number(k.remove_after) > Date.now());
      const out = domainRecords({ domain, hostname: cfg.hostname, ipv4, ipv6, dkimKeys: keys, mtaStsMode: o.mtaSts });
      if (o.json) {
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      console.log(formatZone(out.records));
      console.log(`\n; MTA-STS policy: serve this text over HTTPS at ${out.mtaStsPolicy.url}`);
      console.log(`; (mta-sts.${domain} needs an A record and a certificate of its own)`);
      console.log(out.mtaStsPolicy.text.replace(/\r\n/g, '\n').trimEnd());
    });
  });
}
