// A self-signed certificate for the host name, so STARTTLS works from the first start.
// Admins replace it later (import, CSR, ACME); this one only makes opportunistic TLS
// possible on a fresh install.
//
// Made with the openssl command (present on every Debian install): @peculiar/x509 2.x
// fails here because mailauth pins an older @peculiar/asn1-schema and npm installs two
// copies whose schema registries do not see each other.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function ensureSelfSignedCert(hostname: string, certFile: string, keyFile: string): Promise<{ created: boolean }> {
  if (existsSync(certFile) && existsSync(keyFile)) return { created: false };
  if (!/^[a-zA-Z0-9.-]+$/.test(hostname)) throw new Error(`invalid host name for a certificate: ${hostname}`);
  mkdirSync(dirname(certFile), { recursive: true });
  mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '825',
    '-subj', `/CN=${hostname}`, '-addext', `subjectAltName=DNS:${hostname}`,
    '-addext', 'extendedKeyUsage=serverAuth',
  ]);
  chmodSync(keyFile, 0o600);
  return { created: true };
}
