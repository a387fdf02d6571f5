// The STARTTLS certificate: readable, in date, not about to expire, for the host name, and
// not only the self-signed one `hermes init` made (senders that verify, MTA-STS, refuse it).
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { finding, type DoctorCheck } from './finding.ts';

const DAY = 86_400_000;

export const tlsCertificateCheck: DoctorCheck = async ({ config, now }) => {
  const file = config.tls.cert;
  const replace = `Install a certificate for ${config.hostname} from a public CA (for example ACME) at ${file} with its key at ${config.tls.key}, then restart.`;
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
