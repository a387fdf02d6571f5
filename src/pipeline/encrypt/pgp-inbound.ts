// Inbound OpenPGP, before the filter stages: PGP/MIME mail to internal recipients whose
// private keys the gateway holds is decrypted (so spam, malware and attachment checks
// see the content), signatures are checked against the sender's known keys, and the
// sender's Autocrypt key is harvested for the next message to them.
import { fromAddress, harvestAutocrypt } from './pgp-autocrypt.ts';
import { decryptPgpMime, isPgpEncrypted, isPgpSigned, verifyPgpMime, type PgpSignatureResult } from './pgp-mime.ts';
import type { PgpKeyStore } from './pgp-key-store.ts';
import type { Settings } from '../../config/settings.ts';
import type { MessageContext, Stage } from '../context.ts';
import type { InboundDecryptor } from './decrypt-stage.ts';

export type InboundPgpOutcome =
  | { kind: 'not-pgp' }
  | { kind: 'decrypted'; message: Buffer; detail: Record<string, unknown> }
  | { kind: 'kept'; reason: string };

function signatureSummary(sigs: PgpSignatureResult[]): Record<string, unknown> {
  if (!sigs.length) return { signature: 'none' };
  const good = sigs.find((s) => s.valid);
  return good ? { signature: 'valid', signer: good.fingerprint } : { signature: sigs.some((s) => s.fingerprint) ? 'invalid' : 'unknown key', keyIds: sigs.map((s) => s.keyId), error: sigs[0]!.error };
}

/**
 * Decrypts a PGP/MIME message for `recipients` (the internal ones) with the private
 * keys we hold for them. A message we cannot decrypt is kept as it came (the recipient's
 * own client may hold the key), with the reason.
 */
export async function decryptInboundPgp(message: Buffer, o: { keys: PgpKeyStore; recipients: string[]; now?: Date }): Promise<InboundPgpOutcome> {
  if (!isPgpEncrypted(message)) return { kind: 'not-pgp' };
  const now = o.now ?? new Date();
  const decryptionKeys = await o.keys.privateKeys(o.recipients, now);
  if (!decryptionKeys.length) return { kind: 'kept', reason: 'no private key held for the recipients' };
  const from = fromAddress(message);
  const verificationKeys = from ? await o.keys.verificationKeys(from, now) : [];
  try {
    const r = await decryptPgpMime(message, { decryptionKeys, verificationKeys });
    let signatures = r.signatures;
    // Sign, then encrypt (RFC 3156 6.1): the decrypted entity is itself multipart/signed.
    if (!signatures.length && isPgpSigned(r.message)) signatures = await verifyPgpMime(r.message, { verificationKeys }).catch(() => []);
    return { kind: 'decrypted', message: r.message, detail: { method: 'pgp', decryptedWith: r.decryptedWith, ...signatureSummary(signatures) } };
  } catch (err) {
    return { kind: 'kept', reason: (err as Error).message };
  }
}

/** Checks the signature of a PGP/MIME signed inbound message (for the trace); null when it is not one. */
export async function verifyInboundPgp(message: Buffer, o: { keys: PgpKeyStore; now?: Date }): Promise<Record<string, unknown> | null> {
  if (!isPgpSigned(message)) return null;
  const from = fromAddress(message);
  const keys = from ? await o.keys.verificationKeys(from, o.now ?? new Date()) : [];
  try {
    return { method: 'pgp', ...signatureSummary(await verifyPgpMime(message, { verificationKeys: keys })) };
  } catch (err) {
    return { method: 'pgp', signature: 'unreadable', error: (err as Error).message };
  }
}

/**
 * Keeps the key an inbound message's Autocrypt header offers for its From address.
 * Only when the From domain is authenticated (DMARC pass): otherwise anyone could plant
 * a key for someone else's address and have the next message encrypted to it.
 */
export async function harvestInboundAutocrypt(message: Buffer, o: { keys: PgpKeyStore; fromAuthenticated: boolean; now?: Date }): Promise<Record<string, unknown> | null> {
  const r = await harvestAutocrypt(message, o.now);
  if ('none' in r) return r.none === 'no Autocrypt header' ? null : { harvested: false, reason: r.none };
  if (!o.fromAuthenticated) return { harvested: false, address: r.harvested.address, reason: 'From domain not authenticated (DMARC did not pass)' };
  const current = await o.keys.encryptionKey(r.harvested.address, o.now);
  if (current?.info.fingerprint === r.harvested.info.fingerprint) return { harvested: false, address: r.harvested.address, reason: 'key already known', fingerprint: r.harvested.info.fingerprint };
  await o.keys.save(r.harvested.address, r.harvested.key, 'harvested');
  return { harvested: true, address: r.harvested.address, fingerprint: r.harvested.info.fingerprint, preferEncrypt: r.harvested.preferEncrypt };
}

/** PGP/MIME for the inbound decrypt stage (decrypt-stage.ts). */
export function pgpDecryptor(keys: PgpKeyStore): InboundDecryptor {
  return {
    name: 'pgp',
    async decrypt(message, recipients) {
      const r = await decryptInboundPgp(message, { keys, recipients });
      return r.kind === 'not-pgp' ? { kind: 'not-mine' } : r;
    },
  };
}

/**
 * Inbound mail from outside, before decryption and the filters: harvests the sender's
 * Autocrypt key (encryption.harvest) and checks a PGP/MIME signature against the
 * sender's known keys, both for the trace. Never changes or stops the message.
 */
export function pgpInboundStage(o: { keys: PgpKeyStore; settings: () => Settings }): Stage {
  return {
    name: 'pgp-inbound',
    async run(ctx: MessageContext) {
      if (ctx.client.trusted) return;
      try {
        if (o.settings()['encryption.harvest']) {
          const fromAuthenticated = ctx.auth?.verdict.dmarc.result === 'pass';
          const h = await harvestInboundAutocrypt(ctx.body, { keys: o.keys, fromAuthenticated });
          if (h) ctx.trace('autocrypt', h);
        }
        const sig = await verifyInboundPgp(ctx.body, { keys: o.keys });
        if (sig) ctx.trace('signature', sig);
      } catch (err) {
        // A key store failure must not cost the message: it is only not harvested.
        ctx.log.error({ err }, 'OpenPGP inbound check failed');
        ctx.trace('autocrypt', { harvested: false, error: (err as Error).message });
      }
    },
  };
}
