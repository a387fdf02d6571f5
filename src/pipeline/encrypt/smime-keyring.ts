// What the S/MIME method and the inbound stage know about certificates, read from the
// key store and cached until config_serial moves (every key change bumps it): the
// trust anchors, each address's usable certificate (chain and validity checked), the
// signing and decryption keys of internal addresses, and issuance of certificates by
// the internal CA, in the background so no SMTP session waits for RSA key generation.
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Db } from '../../db/database.ts';
import { listEncryptionKeys, openPrivateMaterial, saveEncryptionKey, usableKeys, type EncryptionKeyRow } from '../../db/repos/encryption-keys.ts';
import type { MasterKey } from '../../keys/master-key.ts';
import { certAddresses, certFingerprint, certificatesToPem, checkCertificate, parseCertificates, type CertCheck, type Certificate, type CertUse } from './smime-cert.ts';
import type { DecryptionKey } from './smime-envelope.ts';
import type { Signer } from './smime-sign.ts';
import { ensureInternalCa, issueCertificate } from './smime-ca.ts';
import { RsaKeyPool } from './key-pool.ts';

/** Debian's bundle of public CAs: S/MIME certificates from public CAs chain to these. */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface SmimeKeyringOptions {
  db: Db;
  masterKey: () => MasterKey;
  serial: () => number;
  /** The gateway's host name (the internal CA's name). */
  hostname: string;
  log?: Logger;
  /** Extra trust anchors file (default: the system bundle, when present). null: none. */
  systemBundle?: string | null;
  keyPool?: RsaKeyPool;
}

export interface UsableCert {
  ok: boolean;
  reason: string;
  cert?: Certificate;
  row?: EncryptionKeyRow;
}

interface Loaded {
  serial: number;
  anchors: Certificate[];
  /** "use address" -> verdict, for this serial (validity is rechecked by the hour). */
  verdicts: Map<string, { at: number; v: UsableCert }>;
}

export class SmimeKeyring {
  #loaded: Loaded | null = null;
  #system: Certificate[] | null = null;
  readonly #issuing = new Map<string, Promise<void>>();
  readonly pool: RsaKeyPool;

  constructor(private readonly o: SmimeKeyringOptions) {
    this.pool = o.keyPool ?? new RsaKeyPool(2);
  }

  #systemAnchors(): Certificate[] {
    if (this.#system) return this.#system;
    const file = this.o.systemBundle === undefined ? SYSTEM_CA_BUNDLE : this.o.systemBundle;
    this.#system = [];
    if (file && existsSync(file)) {
      try {
        this.#system = parseCertificates(readFileSync(file, 'latin1'));
      } catch (err) {
        this.o.log?.warn({ err, file }, 'cannot read the system CA bundle for S/MIME');
      }
    }
    return this.#system;
  }

  async #current(): Promise<Loaded> {
    const serial = this.o.serial();
    if (this.#loaded?.serial === serial) return this.#loaded;
    const cas = (await listEncryptionKeys(this.o.db, { kind: 'smime' })).filter((r) => r.is_ca === 1);
    const anchors = [...cas.flatMap((r) => parseCertificates(r.public_material).slice(0, 1)), ...this.#systemAnchors()];
    this.#loaded = { serial, anchors, verdicts: new Map() };
    return this.#loaded;
  }

  async anchors(): Promise<Certificate[]> {
    return (await this.#current()).anchors;
  }

  /** The newest certificate of `address` that passes the checks for `use`, or why there is none. */
  async usable(address: string, use: CertUse, now: Date, needPrivate = false): Promise<UsableCert> {
    const loaded = await this.#current();
    const key = `${use} ${needPrivate ? 'own' : 'any'} ${address.toLowerCase()}`;
    const hit = loaded.verdicts.get(key);
    if (hit && Math.abs(now.getTime() - hit.at) < 3_600_000) return hit.v;
    const rows = (await usableKeys(this.o.db, address, 'smime', now.getTime())).filter((r) => !needPrivate || r.private_material !== null);
    let v: UsableCert = { ok: false, reason: needPrivate ? `no S/MIME key of ${address} held by the gateway` : `no S/MIME certificate known for ${address}` };
    const reasons: string[] = [];
    for (const row of rows) {
      const [cert, ...chain] = parseCertificates(row.public_material);
      const check: CertCheck = await checkCertificate(cert!, { use, now, anchors: loaded.anchors, intermediates: chain, explicitlyTrusted: row.source === 'imported' });
      if (check.ok) {
        v = { ok: true, reason: `certificate ${row.fingerprint.slice(0, 16)} (${row.source}, ${check.reason})`, cert, row };
        break;
      }
      reasons.push(check.reason);
    }
    if (!v.ok && reasons.length) v = { ok: false, reason: reasons.join('; ') };
    loaded.verdicts.set(key, { at: now.getTime(), v });
    return v;
  }

  /** The signing key of an internal sender, or why there is none. */
  async signer(address: string, now: Date): Promise<{ signer: Signer; fingerprint: string } | { reason: string }> {
    const u = await this.usable(address, 'sign', now, true);
    if (!u.ok || !u.row || !u.cert) return { reason: u.reason };
    const privateKeyPem = openPrivateMaterial(this.o.masterKey(), u.row)!;
    return { signer: { cert: u.cert, chain: parseCertificates(u.row.public_material).slice(1), privateKeyPem }, fingerprint: u.row.fingerprint };
  }

  /** Decryption keys held for these addresses (every unrevoked one: old mail may use an old key). */
  async decryptionKeys(addresses: readonly string[]): Promise<DecryptionKey[]> {
    const out: DecryptionKey[] = [];
    for (const a of new Set(addresses.map((x) => x.toLowerCase()))) {
      for (const row of await listEncryptionKeys(this.o.db, { address: a, kind: 'smime' })) {
        if (!row.private_material) continue;
        out.push({ cert: parseCertificates(row.public_material)[0]!, privateKeyPem: openPrivateMaterial(this.o.masterKey(), row)! });
      }
    }
    return out;
  }

  /**
   * Stores the certificate of a validly signed inbound message for its sender, if it
   * passes the checks for encryption (a trusted chain). Returns what happened.
   */
  async harvest(cert: Certificate, chain: readonly Certificate[], sender: string, now: Date): Promise<{ stored: boolean; reason: string; fingerprint?: string }> {
    const addresses = certAddresses(cert);
    if (!addresses.includes(sender.toLowerCase())) return { stored: false, reason: `the signing certificate is for ${addresses.join(', ') || 'no address'}, not the sender ${sender}` };
    const check = await checkCertificate(cert, { use: 'encrypt', now, anchors: await this.anchors(), intermediates: chain });
    if (!check.ok) return { stored: false, reason: check.reason };
    const fingerprint = certFingerprint(cert);
    const known = (await listEncryptionKeys(this.o.db, { address: sender, kind: 'smime', includeRevoked: true })).find((r) => r.fingerprint === fingerprint);
    if (known) return { stored: false, reason: known.revoked_at ? 'this certificate was revoked here' : 'already known', fingerprint };
    await saveEncryptionKey(this.o.db, null, {
      address: sender,
      kind: 'smime',
      fingerprint,
      subject: cert.subject,
      issuer: cert.issuer,
      // The certificate and its intermediates; the anchor at the top is known already.
      publicMaterial: certificatesToPem(check.chain.length > 1 ? check.chain.slice(0, -1) : [cert]),
      notBefore: cert.notBefore.getTime(),
      notAfter: cert.notAfter.getTime(),
      source: 'harvested',
      now: now.getTime(),
    });
    return { stored: true, reason: check.reason, fingerprint };
  }

  /**
   * Asks the internal CA for a certificate for `address`, in the background (the pool
   * holds ready RSA keys). Resolves when it is stored; callers in a session do not wait.
   */
  requestCertificate(address: string): Promise<void> {
    const a = address.toLowerCase();
    const running = this.#issuing.get(a);
    if (running) return running;
    const job = (async () => {
      const mk = this.o.masterKey();
      const now = new Date();
      if ((await usableKeys(this.o.db, a, 'smime', now.getTime())).some((r) => r.private_material)) return;
      const ca = await ensureInternalCa(this.o.db, mk, this.o.hostname, now);
      const row = await issueCertificate(this.o.db, mk, ca, a, await this.pool.take(), now);
      this.o.log?.info({ address: a, fingerprint: row.fingerprint }, 'internal CA issued an S/MIME certificate');
    })()
      .catch((err) => this.o.log?.error({ err, address: a }, 'internal CA could not issue a certificate'))
      .finally(() => this.#issuing.delete(a));
    this.#issuing.set(a, job);
    return job;
  }
}
