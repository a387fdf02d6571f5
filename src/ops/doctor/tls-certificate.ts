// The TLS certificates: with certificates in the store, each one in date, not about to
// expire, its ACME renewal not failing, and one covering the host name; with none, the
// bootstrap file: readable, in date, for the host name, and not only the self-signed one
// `hermes init` made (senders that verify, MTA-STS, refuse it).
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { listCertificates } from '../../db/repos/certificates.ts';
import type { CertificateRow } from '../../db/schema.ts';
import { nameCovered } from '../../tls/certificate-facts.ts';
import { finding, type DoctorCheck, type DoctorContext, type Finding } from './finding.ts';

const DAY = 86_400_000;

function storedFindings(rows: CertificateRow[], { config, now }: DoctorContext): Finding[] {
  const out: Finding[] = [];
  for (const r of rows) {
    const names = JSON.parse(r.names_json) as string[];
    const subject = `certificate ${r.id} (${names.join(', ')})`;
    if (r.status === 'pending') {
      out.push(finding('tls', subject, 'warn', `a CSR made on ${new Date(Number(r.created_at)).toISOString()} is still waiting for its certificate`, `Give the CSR ("hermes certs list --json") to your CA and import the signed certificate with "hermes certs import", or "hermes certs remove ${r.id}".`));
      continue;
    }
    const until = Number(r.not_after);
    const days = Math.floor((until - now) / DAY);
    const validTo = new Date(until).toISOString();
    const renew = r.source === 'acme' ? `"hermes certs renew ${r.id}" (ACME, ${r.acme_directory})` : 'a renewed certificate from its CA, imported with "hermes certs import"';
    if (r.last_error) {
      out.push(finding('tls', subject, until <= now ? 'fail' : 'warn', `automatic renewal failed ${r.renew_failures} time(s), next try ${r.next_renew_attempt ? new Date(Number(r.next_renew_attempt)).toISOString() : '-'}: ${r.last_error}`, `Fix the cause (DNS of each name pointing here, port 80 reachable for http-01), then run ${renew}. Valid until ${validTo}.`));
    } else if (until <= now) out.push(finding('tls', subject, 'fail', `expired on ${validTo}`, `Renew it: ${renew}.`));
    else if (days < 14) out.push(finding('tls', subject, 'warn', `expires in ${days} days (${validTo})`, `Renew it: ${renew}.`));
    else out.push(finding('tls', subject, 'ok', `valid until ${validTo} (${days} days), issued by ${r.issuer}${r.source === 'acme' ? ', renewed automatically' : ''}`));
  }
  const active = rows.filter((r) => r.status === 'active');
  if (active.length && !active.some((r) => nameCovered(config.hostname, JSON.parse(r.names_json) as string[]))) {
    out.push(finding('tls', config.hostname, 'warn', `no stored certificate covers the host name ${config.hostname} (senders reach the MX by it)`, `Add one: "hermes certs acme ${config.hostname}" or "hermes certs csr ${config.hostname}".`));
  }
  return out;
}

export const tlsCertificateCheck: DoctorCheck = async (ctx) => {
  const stored = await listCertificates(ctx.db);
  if (stored.length) return storedFindings(stored, ctx);
  const { config, now } = ctx;
  const file = config.tls.cert;
  const replace = `Get a certificate for ${config.hostname} from a public CA: "hermes certs acme ${config.hostname}" (ACME), or "hermes certs csr" then "hermes certs import"; it applies without a restart.`;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(file));
  } catch (err) {
    return [finding('tls', file, 'fail', `cannot read the certificate: ${(err as Error).message}`, replace)];
  }
  const until = Date.parse(cert.validTo);
  const days = Math.floor((until - now) / DAY);
  if (Date.parse(cert.validFrom) > now) return [finding('tls', file, 'fail', `not valid before ${cert.validFrom}`, 'Check the clock, or the certificate.')];
  if (until <= now) return [finding('tls', file, 'fail', `expired on ${cert.validTo}`, replace)];
  const out = [];
  if (days < 14) out.push(finding('tls', file, 'warn', `expires in ${days} days (${cert.validTo})`, `Renew it. ${replace}`));
  if (!cert.checkHost(config.hostname)) out.push(finding('tls', file, 'warn', `issued for ${cert.subject.replace(/\n/g, ', ')}, not ${config.hostname}`, replace));
  const selfSigned = cert.issuer === cert.subject && cert.verify(cert.publicKey);
  if (selfSigned) out.push(finding('tls', file, 'warn', `self-signed (the bootstrap certificate); valid until ${cert.validTo}`, `Encryption works with it, but senders that verify certificates will not trust it. ${replace}`));
  if (!out.length) out.push(finding('tls', file, 'ok', `valid until ${cert.validTo} (${days} days), issued by ${cert.issuer.replace(/\n/g, ', ')}`));
  return out;
};
