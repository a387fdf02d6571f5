// The certificate authorities outbound TLS verification trusts ("verify" level, MTA-STS
// policy fetches and MX certificates): Node's bundled roots, the system's bundle, and the
// admin's own (delivery.tlsCaFile). Files are read again only when they change.
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';

/** Debian's (and most distributions') system bundle. */
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

const files = new Map<string, { mtimeMs: number; pem: string | null; error: string | null }>();

function readPem(file: string): { pem: string | null; error: string | null } {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch (err) {
    return { pem: null, error: `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  const known = files.get(file);
  if (known && known.mtimeMs === mtimeMs) return known;
  let entry: { mtimeMs: number; pem: string | null; error: string | null };
  try {
    const pem = readFileSync(file, 'utf8');
    entry = /-----BEGIN CERTIFICATE-----/.test(pem) ? { mtimeMs, pem, error: null } : { mtimeMs, pem: null, error: `${file} holds no PEM certificate` };
  } catch (err) {
    entry = { mtimeMs, pem: null, error: `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  files.set(file, entry);
  return entry;
}

export interface TrustStore {
  /** For node:tls `ca`: replaces Node's defaults, so the bundled roots are in it too. */
  ca: string[];
  /**
   * The same roots as a secure context made once: building one from ~150 roots costs
   * milliseconds, too much for every connection.
   */
  secureContext: SecureContext;
  /** Why the admin's file is not in use (unreadable, not PEM), for the trace and the log. */
  problem: string | null;
}

export function trustStore(adminCaFile: string | null): TrustStore {
  const ca = [...rootCertificates];
  const system = readPem(SYSTEM_BUNDLE);
  if (system.pem) ca.push(system.pem);
  let problem: string | null = null;
  if (adminCaFile) {
    const admin = readPem(adminCaFile);
    if (admin.pem) ca.push(admin.pem);
    else problem = `delivery.tlsCaFile not used: ${admin.error}`;
  }
  const key = `${files.get(SYSTEM_BUNDLE)?.mtimeMs ?? 0}|${adminCaFile ?? ''}|${adminCaFile ? (files.get(adminCaFile)?.mtimeMs ?? 0) : 0}`;
  if (!last || last.key !== key) last = { key, store: { ca, problem, secureContext: createSecureContext({ ca }) } };
  return last.store;
}

let last: { key: string; store: TrustStore } | null = null;
