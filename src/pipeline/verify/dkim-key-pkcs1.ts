// DKIM keys published in PKCS#1 form.
//
// RFC 6376 section 3.6.1 says p= holds an RSAPublicKey (PKCS#1); erratum 3017 and
// every common signer publish a SubjectPublicKeyInfo instead, and mailauth 4.9.5
// (lib/tools.js getPublicKey) only accepts the latter: it wraps p= in a
// "BEGIN PUBLIC KEY" PEM, so a PKCS#1 key fails to parse and the signature ends as
// permerror "unknown key type". Some real domains publish PKCS#1, and both forms name
// the same key, so accepting it changes no trust decision (see docs/architecture.md).
//
// getPublicKey is reached only through the resolver we pass, so this wrapper re-encodes
// a p= that parses as PKCS#1 (and not as SubjectPublicKeyInfo) into the equivalent
// SubjectPublicKeyInfo before mailauth reads the record. Anything else passes through
// unchanged, so an invalid key still fails in mailauth as before. Upstream fix:
// docs/upstream-mailauth.md; test/unit/auth-mailauth-upstream.test.ts tells when it lands.
import { createPublicKey } from 'node:crypto';

type Resolver = (name: string, rrtype: string) => Promise<unknown>;

/** base64 SubjectPublicKeyInfo for a base64 PKCS#1 RSAPublicKey, or null if it is not one. */
export function pkcs1ToSpki(p: string): string | null {
  const der = Buffer.from(p.replace(/\s+/g, ''), 'base64');
  if (!der.length || der.length === 32) return null; // empty (revoked) or a raw Ed25519 key
  try {
    createPublicKey({ key: der, format: 'der', type: 'spki' });
    return null; // already SubjectPublicKeyInfo
  } catch {
    // not SPKI: try PKCS#1 below
  }
  try {
    const key = createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
    return key.asymmetricKeyType === 'rsa' ? key.export({ type: 'spki', format: 'der' }).toString('base64') : null;
  } catch {
    return null;
  }
}

/** The key record with a PKCS#1 p= re-encoded as SubjectPublicKeyInfo; null when nothing changes. */
export function withSpkiKey(record: string): string | null {
  const m = /(^|;)(\s*p\s*=)([^;]*)/i.exec(record);
  if (!m) return null;
  const spki = pkcs1ToSpki(m[3]!);
  if (!spki) return null;
  const start = m.index + m[1]!.length + m[2]!.length;
  return record.slice(0, start) + spki + record.slice(start + m[3]!.length);
}

/** Wraps the resolver used for DKIM and ARC key lookups (<selector>._domainkey.<domain> TXT). */
export function pkcs1KeyResolver(resolver: Resolver): Resolver {
  return async (name, rrtype) => {
    const answer = await resolver(name, rrtype);
    if (rrtype !== 'TXT' || !/\._domainkey\./i.test(name) || !Array.isArray(answer)) return answer;
    return answer.map((rr: unknown) => {
      const fixed = withSpkiKey(Array.isArray(rr) ? rr.join('') : String(rr));
      return fixed === null ? rr : [fixed];
    });
  };
}
