// `hermes doctor`: checks what a gateway needs from the world around it (DNS records,
// reverse DNS, certificate, next hops, engines, disk, queue, clock) and says how to fix
// what is wrong. Exit code 1 when anything fails; warnings alone exit 0.
import type { Command } from 'commander';
import { loadSettings } from '../config/settings.ts';
import { activeDkimKeys } from '../db/repos/dkim-keys.ts';
import { listRelayDomains } from '../db/repos/relay-policy.ts';
import { DnsResolver } from '../dns/resolver.ts';
import { runDoctor, type Finding } from '../ops/doctor/index.ts';
import { withDataDir, withDb } from './context.ts';

const MARK: Record<Finding['status'], string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

export function printFindings(findings: Finding[]): void {
  for (const f of findings) {
    console.log(`${MARK[f.status]}  ${f.check}${f.subject ? ` ${f.subject}` : ''}: ${f.message}`);
    if (f.fix) console.log(`      fix: ${f.fix}`);
  }
  const n = (s: Finding['status']) => findings.filter((f) => f.status === s).length;
  console.log(`\n${n('ok')} ok, ${n('warn')} warnings, ${n('fail')} failures`);
}

export function registerDoctor(program: Command): void {
  withDataDir(
    program
      .command('doctor')
      .description('check DNS records, reverse DNS, certificate, next hops, engines, disk, queue and clock')
      .option('--timeout <ms>', 'deadline for each network probe', '5000')
      .option('--json', 'print the findings as JSON'),
  ).action(async (o: { dataDir: string; timeout: string; json?: boolean }) => {
    const probeTimeoutMs = Number(o.timeout);
    if (!Number.isInteger(probeTimeoutMs) || probeTimeoutMs < 100) throw new Error('--timeout must be a number of milliseconds, at least 100');
    const findings = await withDb(o.dataDir, async (db, config) =>
      runDoctor({
        config,
        db,
        settings: await loadSettings(db),
        dns: new DnsResolver({ servers: config.dnsServers.length ? config.dnsServers : undefined, timeoutMs: probeTimeoutMs }),
        domains: await listRelayDomains(db),
        dkimKeys: await activeDkimKeys(db),
        probeTimeoutMs,
        now: Date.now(),
      }),
    );
    if (o.json) console.log(JSON.stringify({ ok: !findings.some((f) => f.status === 'fail'), findings }, null, 2));
    else printFindings(findings);
    if (findings.some((f) => f.status === 'fail')) process.exitCode = 1;
  });
}
