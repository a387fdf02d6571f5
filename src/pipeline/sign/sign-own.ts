// DKIM signing of the mail the gateway writes itself (delivery status notifications):
// the same keys the sign stage would choose for its From domain (or a parent up to the
// organisational domain), so a DSN from MAILER-DAEMON@mx.example.com passes DMARC for
// example.com like the mail the gateway relays. Such mail never runs the pipeline.
import { dkimSign } from './dkim-sign.ts';
import type { SigningKeyStore } from './key-store.ts';
import { fromDomains, signingCandidates } from './sign-stage.ts';

export type OwnSignature = { signed: true; domain: string; selectors: string[] } | { signed: false; reason: string };

/** The message with DKIM-Signature fields on top, or as it is when no key applies. Throws when a key cannot sign. */
export async function signOwnMessage(keys: SigningKeyStore, message: Buffer): Promise<{ message: Buffer; signature: OwnSignature }> {
  const candidates = [...new Set(fromDomains(message).flatMap(signingCandidates))];
  if (!candidates.length) return { message, signature: { signed: false, reason: 'no From domain' } };
  const found = await keys.signingKeys(candidates);
  if (!found) return { message, signature: { signed: false, reason: `no active DKIM key for ${candidates.join(', ')}` } };
  const signed = await dkimSign(message, found.keys);
  return { message: signed, signature: { signed: true, domain: found.domain, selectors: found.keys.map((k) => k.selector) } };
}
