// `hermes doctor`: every check, in the order they are shown, and the run over all of them.
import type { DoctorCheck, DoctorContext, Finding } from './finding.ts';
import { dnsResolutionCheck } from './dns-resolution.ts';
import { mxRecordCheck } from './mx-record.ts';
import { spfRecordCheck } from './spf-record.ts';
import { dkimRecordCheck } from './dkim-record.ts';
import { dmarcRecordCheck } from './dmarc-record.ts';
import { reverseDnsCheck } from './reverse-dns.ts';
import { tlsCertificateCheck } from './tls-certificate.ts';
import { nextHopsCheck } from './next-hops.ts';
import { enginesCheck } from './engines.ts';
import { diskSpaceCheck } from './disk-space.ts';
import { queueAgeCheck } from './queue-age.ts';
import { clockCheck } from './clock.ts';
import { bayesCheck } from './bayes.ts';

export type { Finding, DoctorContext } from './finding.ts';

export const DOCTOR_CHECKS: ReadonlyArray<{ name: string; run: DoctorCheck }> = [
  { name: 'dns', run: dnsResolutionCheck },
  { name: 'mx', run: mxRecordCheck },
  { name: 'spf', run: spfRecordCheck },
  { name: 'dkim', run: dkimRecordCheck },
  { name: 'dmarc', run: dmarcRecordCheck },
  { name: 'reverse-dns', run: reverseDnsCheck },
  { name: 'tls', run: tlsCertificateCheck },
  { name: 'next-hop', run: nextHopsCheck },
  { name: 'engine', run: enginesCheck },
  { name: 'bayes', run: bayesCheck },
  { name: 'disk', run: diskSpaceCheck },
  { name: 'queue', run: queueAgeCheck },
  { name: 'clock', run: clockCheck },
];

/** Runs the checks side by side; a check that throws is itself a failure, not a crash. */
export async function runDoctor(ctx: DoctorContext): Promise<Finding[]> {
  const results = await Promise.all(
    DOCTOR_CHECKS.map(({ name, run }) =>
      run(ctx).catch((err: unknown): Finding[] => [{ check: name, subject: '', status: 'fail', message: `the check itself failed: ${(err as Error).message}`, fix: 'Report this as a bug.' }]),
    ),
  );
  return results.flat();
}
