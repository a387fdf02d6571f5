// The encryption key store for admins: S/MIME certificates and OpenPGP keys, listed with
// their expiry, imported, exported (public halves only), generated for internal
// addresses, revoked. Private keys are sealed with the master key when stored and never
// leave this service. Each kind (smime, pgp) brings a KeyKindHandler; the PGP one is
// registered by the OpenPGP method (registerKeyKind).
import type { Db } from '../db/database.ts';
import { inTransaction } from '../db/transaction.ts';
import { loadSettings } from '../config/settings.ts';
import {
  findByFingerprint,
  findEncryptionKey,
  internalCaRow,
  listEncryptionKeys,
  normaliseKeyAddress,
  parseKeyKind,
  revokeEncryptionKey,
  saveEncryptionKey,
  type EncryptionKeyKind,
  type EncryptionKeyRow,
  type NewEncryptionKey,
} from '../db/repos/encryption-keys.ts';
import type { MasterKey } from '../keys/master-key.ts';
import { assertCan, assertDomain, canSeeDomain, domainOf, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { check, repo } from './repo-errors.ts';
import { ServiceError } from './service-error.ts';
import { smimeKeyKind } from './smime-key-kind.ts';

export interface ImportInput {
  /** The file's bytes: PEM or DER certificates, PKCS#12 (with password), armored or binary PGP keys. */
  data: Buffer;
  password?: string;
  /** Store for this address (must be one the key names); default: every address it names. */
  address?: string;
  /** S/MIME: store the certificates as trust anchors (CAs whose certificates are accepted). */
  ca?: boolean;
}

/** What a kind of key knows how to do; the service does permissions, storage and audit. */
export interface KeyKindHandler {
  /** Reads a file into rows to store (a certificate naming two addresses gives two). */
  parse(input: ImportInput): Promise<NewEncryptionKey[]>;
  /** Makes a key (and certificate) for an internal address; stored by the handler itself (the CA needs the db). */
  generate(db: Db, mk: MasterKey, address: string, hostname: string): Promise<EncryptionKeyRow>;
  /** The public material to hand out (PEM chain, armored key). */
  exportPublic(row: EncryptionKeyRow): string;
}

const KINDS = new Map<EncryptionKeyKind, KeyKindHandler>([['smime', smimeKeyKind]]);

export function registerKeyKind(kind: EncryptionKeyKind, handler: KeyKindHandler): void {
  KINDS.set(kind, handler);
}

function handler(kind: EncryptionKeyKind): KeyKindHandler {
  const h = KINDS.get(kind);
  if (!h) throw new ServiceError('invalid', `${kind} keys are not supported by this build`, { kind: 'not supported' });
  return h;
}

export type KeyStatus = 'valid' | 'expiring' | 'expired' | 'not-yet-valid' | 'revoked';

export interface EncryptionKeyView {
  id: number;
  address: string;
  kind: EncryptionKeyKind;
  fingerprint: string;
  subject: string | null;
  issuer: string | null;
  source: string;
  /** The gateway holds the private key (sealed): it signs and decrypts for this address. */
  hasPrivateKey: boolean;
  /** A trust anchor (or the internal CA), not an address's key. */
  isCa: boolean;
  notBefore: string | null;
  notAfter: string | null;
  status: KeyStatus;
  /** Set when the key expires within encryption.expiryWarningDays (or has). */
  warning: string | null;
  revokedAt: string | null;
  createdAt: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
const DAY = 86_400_000;

function toView(r: EncryptionKeyRow, warnDays: number, now = Date.now()): EncryptionKeyView {
  let status: KeyStatus = 'valid';
  let warning: string | null = null;
  const after = r.not_after === null ? null : Number(r.not_after);
  if (r.revoked_at !== null) status = 'revoked';
  else if (after !== null && after <= now) {
    status = 'expired';
    warning = `expired on ${iso(after)}`;
  } else if (r.not_before !== null && Number(r.not_before) > now) status = 'not-yet-valid';
  else if (after !== null && after - now <= warnDays * DAY) {
    status = 'expiring';
    warning = `expires in ${Math.max(0, Math.floor((after - now) / DAY))} days (${iso(after)})`;
  }
  return {
    id: r.id,
    address: r.address,
    kind: r.kind,
    fingerprint: r.fingerprint,
    subject: r.subject,
    issuer: r.issuer,
    source: r.source,
    hasPrivateKey: r.private_material !== null,
    isCa: r.is_ca === 1,
    notBefore: iso(r.not_before),
    notAfter: iso(after),
    status,
    warning,
    revokedAt: iso(r.revoked_at),
    createdAt: iso(r.created_at)!,
  };
}

/** A CA row (address '') is the whole gateway's: only an administrator of every domain sees or changes it. */
function visible(actor: Actor, r: { address: string }): boolean {
  return r.address === '' ? actor.domains === null : canSeeDomain(actor, domainOf(r.address));
}

async function warnDays(db: Db): Promise<number> {
  return (await loadSettings(db))['encryption.expiryWarningDays'];
}

export interface ListInput {
  address?: string;
  kind?: string;
  domain?: string;
  includeRevoked?: boolean;
  /** Only keys that expire within the warning period (or have expired). */
  expiring?: boolean;
}

export async function listKeys(db: Db, actor: Actor, f: ListInput = {}): Promise<EncryptionKeyView[]> {
  assertCan(actor, 'encryption.read');
  const kind = f.kind ? check(() => parseKeyKind(f.kind!), 'kind') : undefined;
  const address = f.address !== undefined ? check(() => normaliseKeyAddress(f.address!), 'address') : undefined;
  if (address) assertDomain(actor, domainOf(address));
  if (f.domain) assertDomain(actor, f.domain.toLowerCase());
  const days = await warnDays(db);
  const rows = await listEncryptionKeys(db, { ...(address !== undefined ? { address } : {}), ...(kind ? { kind } : {}), ...(f.domain ? { domain: f.domain } : {}), includeRevoked: !!f.includeRevoked });
  const views = rows.filter((r) => visible(actor, r)).map((r) => toView(r, days));
  return f.expiring ? views.filter((v) => v.status === 'expiring' || v.status === 'expired') : views;
}

/** Stores the keys or certificates of a file. */
export async function importKeys(db: Db, actor: Actor, mk: MasterKey, kindText: string, input: ImportInput): Promise<EncryptionKeyView[]> {
  assertCan(actor, 'encryption.write');
  const kind = check(() => parseKeyKind(kindText), 'kind');
  if (input.ca && actor.domains !== null) throw new ServiceError('forbidden', 'trust anchors apply to every domain: only an administrator of all domains may import them');
  const parsed = await repo(() => handler(kind).parse(input), 'data');
  const wanted = input.address !== undefined ? check(() => normaliseKeyAddress(input.address!), 'address') : undefined;
  const rows = wanted !== undefined && !input.ca ? parsed.filter((p) => p.address === wanted) : parsed;
  if (!rows.length) throw new ServiceError('invalid', `the ${kind === 'smime' ? 'certificate' : 'key'} is not for ${wanted} (it names ${[...new Set(parsed.map((p) => p.address))].join(', ') || 'no address'})`, { address: 'not in the key' });
  for (const r of rows) if (r.address) assertDomain(actor, domainOf(r.address));
  const days = await warnDays(db);
  return inTransaction(db, async (trx) => {
    const out: EncryptionKeyView[] = [];
    for (const r of rows) {
      const row = await repo(() => saveEncryptionKey(trx, mk, r));
      const view = toView(row, days);
      out.push(view);
      await recordChange(trx, actor, { action: 'encryption-key.import', targetType: 'encryption-key', targetId: `${kind}:${row.fingerprint}:${row.address}`, ...(row.address ? { domain: domainOf(row.address) } : {}), after: view });
    }
    return out;
  });
}

/** Makes a key (S/MIME: a certificate from the internal CA) for an address in one of our domains. */
export async function generateKey(db: Db, actor: Actor, mk: MasterKey, kindText: string, addressText: string, o: { hostname: string; isLocalDomain: (domain: string) => boolean }): Promise<EncryptionKeyView> {
  assertCan(actor, 'encryption.write');
  const kind = check(() => parseKeyKind(kindText), 'kind');
  const address = check(() => normaliseKeyAddress(addressText), 'address');
  if (!address) throw new ServiceError('invalid', 'an address is required', { address: 'required' });
  assertDomain(actor, domainOf(address));
  if (!o.isLocalDomain(domainOf(address))) throw new ServiceError('invalid', `${address} is not in one of the gateway's domains: keys are generated for internal senders only`, { address: 'not internal' });
  const row = await repo(() => handler(kind).generate(db, mk, address, o.hostname));
  const view = toView(row, await warnDays(db));
  await recordChange(db, actor, { action: 'encryption-key.generate', targetType: 'encryption-key', targetId: `${kind}:${row.fingerprint}:${row.address}`, domain: domainOf(address), after: view });
  return view;
}

async function findOne(db: Db, actor: Actor, ref: string, kind?: EncryptionKeyKind): Promise<EncryptionKeyRow[]> {
  const r = ref.trim().toLowerCase();
  let rows: EncryptionKeyRow[];
  if (/^\d+$/.test(r)) {
    const row = await findEncryptionKey(db, Number(r));
    rows = row ? [row] : [];
  } else if (/^[0-9a-f:]{16,}$/.test(r)) {
    const fp = r.replace(/:/g, '');
    const kinds: EncryptionKeyKind[] = kind ? [kind] : ['smime', 'pgp'];
    rows = (await Promise.all(kinds.map((k) => findByFingerprint(db, k, fp)))).flat();
    if (!rows.length) {
      // A unique prefix of 16+ hex digits will do (the list shows 16).
      const all = await listEncryptionKeys(db, { includeRevoked: true, ...(kind ? { kind } : {}) });
      const hits = all.filter((x) => x.fingerprint.startsWith(fp));
      if (new Set(hits.map((x) => `${x.kind}:${x.fingerprint}`)).size > 1) throw new ServiceError('invalid', `"${ref}" matches several keys; give more of the fingerprint`, { key: 'ambiguous' });
      rows = hits;
    }
  } else throw new ServiceError('invalid', `"${ref}" is neither a key id nor a fingerprint`, { key: 'id or fingerprint' });
  rows = rows.filter((x) => visible(actor, x));
  if (!rows.length) throw new ServiceError('not_found', `no encryption key ${ref} (see "hermes encryption keys list")`);
  return rows;
}

/** The public half of a key (PEM certificate chain, armored key); `ca`: the internal CA's certificate. */
export async function exportKey(db: Db, actor: Actor, ref: string | { ca: true }): Promise<{ kind: EncryptionKeyKind; fingerprint: string; publicMaterial: string }> {
  assertCan(actor, 'encryption.read');
  let row: EncryptionKeyRow | undefined;
  if (typeof ref === 'string') row = (await findOne(db, actor, ref))[0];
  else row = await internalCaRow(db);
  if (!row) throw new ServiceError('not_found', 'the internal CA has not been created yet (it is made when it first issues a certificate, or by "hermes encryption keys generate")');
  return { kind: row.kind, fingerprint: row.fingerprint, publicMaterial: handler(row.kind).exportPublic(row) };
}

/** Revokes a key everywhere (every address it is stored for): it is no longer used to encrypt, sign or be trusted. */
export async function revokeKey(db: Db, actor: Actor, ref: string): Promise<EncryptionKeyView[]> {
  assertCan(actor, 'encryption.write');
  const rows = await findOne(db, actor, ref);
  const kinds = new Set(rows.map((r) => `${r.kind}:${r.fingerprint}`));
  if (kinds.size > 1) throw new ServiceError('invalid', `"${ref}" matches several keys; give the full fingerprint`, { key: 'ambiguous' });
  for (const r of rows) if (r.address === '' && actor.domains !== null) throw new ServiceError('forbidden', 'only an administrator of all domains may revoke a CA');
  const days = await warnDays(db);
  return inTransaction(db, async (trx) => {
    const before = rows.map((r) => toView(r, days));
    const after = (await revokeEncryptionKey(trx, rows[0]!.kind, rows[0]!.fingerprint)).filter((r) => visible(actor, r)).map((r) => toView(r, days));
    await recordChange(trx, actor, { action: 'encryption-key.revoke', targetType: 'encryption-key', targetId: `${rows[0]!.kind}:${rows[0]!.fingerprint}`, ...(rows[0]!.address ? { domain: domainOf(rows[0]!.address) } : {}), before, after });
    return after;
  });
}
