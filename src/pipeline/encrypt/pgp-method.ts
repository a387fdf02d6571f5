// The OpenPGP method of the encrypt stage (method.ts): PGP/MIME to recipients whose
// key is known (imported, harvested from Autocrypt, or found by WKD where the admin
// allows it), signed with the internal sender's key when there is one. An internal
// sender without a key gets one generated in the background for the next message.
import type { Settings } from '../../config/settings.ts';
import type { Availability, EncryptInput, EncryptionMethod, MethodResult } from './method.ts';
import { encryptPgpMime, signPgpMime } from './pgp-mime.ts';
import type { PgpKeyGenerator } from './pgp-key-generator.ts';
import type { PgpKeyStore, UsablePgpKey } from './pgp-key-store.ts';
import type { PgpPrivateKey } from './pgp-keys.ts';
import type { WkdResult } from './pgp-wkd.ts';

export interface PgpMethodOptions {
  keys: PgpKeyStore;
  generator: PgpKeyGenerator | null;
  settings: () => Settings;
  /** The address is in one of our relay domains (we may make a key for it). */
  isInternal: (address: string) => boolean;
  /** WKD lookup (pgp-wkd.ts lookupWkd with the gateway's resolver); used only when encryption.pgp.wkd is on. */
  wkd?: (address: string) => Promise<WkdResult>;
}

/** A failed WKD lookup is not repeated for this long (each lookup costs the session a round trip). */
const WKD_NEGATIVE_TTL_MS = 60 * 60 * 1000;

export function pgpMethod(o: PgpMethodOptions): EncryptionMethod {
  const wkdMisses = new Map<string, { until: number; reason: string }>();

  async function viaWkd(address: string, now: Date): Promise<UsablePgpKey | { none: string }> {
    const miss = wkdMisses.get(address);
    if (miss && miss.until > now.getTime()) return { none: `WKD: ${miss.reason} (cached)` };
    const r = await o.wkd!(address);
    if ('none' in r) {
      wkdMisses.set(address, { until: now.getTime() + WKD_NEGATIVE_TTL_MS, reason: r.none });
      return { none: `WKD: ${r.none}` };
    }
    // Kept like a harvested key: the next message finds it in the store.
    await o.keys.save(address, r.key, 'wkd');
    const stored = await o.keys.encryptionKey(address, now);
    return stored ?? { none: 'WKD: the key found cannot be used' };
  }

  async function recipientKey(address: string, now: Date): Promise<UsablePgpKey | { none: string }> {
    const known = await o.keys.encryptionKey(address, now);
    if (known) return known;
    if (o.wkd && o.settings()['encryption.pgp.wkd']) return viaWkd(address.toLowerCase(), now);
    return { none: 'no valid OpenPGP key known' };
  }

  /** The sender's signing key, or why there is none (and a key asked for, when it is ours to make). */
  async function signingKey(sender: string, now: Date): Promise<{ key: PgpPrivateKey } | { unsignedReason: string }> {
    if (!sender) return { unsignedReason: 'no From address' };
    const key = await o.keys.privateKey(sender, now);
    if (key) return { key };
    if (o.isInternal(sender) && o.generator && o.settings()['encryption.pgp.generateKeys']) {
      o.generator.request(sender);
      return { unsignedReason: `no OpenPGP key for ${sender} yet: one is being generated for the next message` };
    }
    return { unsignedReason: `no OpenPGP private key for ${sender}` };
  }

  return {
    name: 'pgp',

    async availableFor(recipient: string, now: Date): Promise<Availability> {
      const k = await recipientKey(recipient, now);
      if ('none' in k) return { ok: false, reason: k.none };
      return { ok: true, detail: `OpenPGP key ${k.info.fingerprint} (${k.row.source})` };
    },

    async encrypt(input: EncryptInput): Promise<MethodResult> {
      const keys: UsablePgpKey[] = [];
      for (const r of input.recipients) {
        const k = await recipientKey(r, input.now);
        if ('none' in k) throw new Error(`${r}: ${k.none}`);
        keys.push(k);
      }
      const signer = input.sign ? await signingKey(input.sender, input.now) : { unsignedReason: 'signing not asked for' };
      const message = await encryptPgpMime(input.message, { encryptionKeys: keys.map((k) => k.key), signingKey: 'key' in signer ? signer.key : null });
      return {
        message,
        detail: {
          format: 'PGP/MIME (RFC 3156)',
          keys: keys.map((k, i) => ({ recipient: input.recipients[i], fingerprint: k.info.fingerprint, source: k.row.source })),
          signed: 'key' in signer,
          ...('key' in signer ? { signer: signer.key.getFingerprint().toUpperCase() } : { unsignedReason: signer.unsignedReason }),
        },
      };
    },

    async sign(input): Promise<MethodResult | { unsignedReason: string }> {
      const signer = await signingKey(input.sender, input.now);
      if ('unsignedReason' in signer) return signer;
      return {
        message: await signPgpMime(input.message, { signingKey: signer.key }),
        detail: { format: 'PGP/MIME multipart/signed (RFC 3156)', signer: signer.key.getFingerprint().toUpperCase(), micalg: 'pgp-sha256' },
      };
    },
  };
}
