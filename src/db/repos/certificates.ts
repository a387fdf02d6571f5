// TLS certificates and what ACME needs to get and renew them. A certificate row holds
// its private key sealed with the master key (the row's random key_ref is the
// associated data), its PEM chain and the facts read from it (names, dates,
// fingerprint) so lists need no parsing. Every change bumps config_serial: the
// listeners of every worker reload their certificates when it moves (see tls/sni.ts).
import { randomUUID } from 'node:crypto';
import type { Db } from '../database.ts';
import { inTransaction } from '../transaction.ts';
import type { CertificateRow, CertificateSource, CertificateStatus } from '../schema.ts';
import { bumpConfigSerial } from '../../config/settings.ts';
import type { MasterKey } from '../../keys/master-key.ts';

export type { CertificateRow, CertificateSource, CertificateStatus };

/** What is read from a signed certificate and kept next to it. */
export interface CertificateFacts {
  certPem: string;
  names: string[];
  subject: string;
  issuer: string;
  serialNumber: string;
  fingerprint: string;
  notBefore: number;
  notAfter: number;
}

export interface NewCertificate {
  source: CertificateSource;
  names: string[];
  keyPem: string;
  keyType: string;
  csrPem?: string;
  /** Absent for a CSR still waiting for its certificate. */
  facts?: CertificateFacts;
  isDefault?: boolean;
  acme?: { directory: string; challenge: string };
}

const keyAad = (keyRef: string) => `certificate-key:${keyRef}`;

function factColumns(f: CertificateFacts) {
  return {
    cert_pem: f.certPem,
    names_json: JSON.stringify(f.names),
    subject: f.subject,
    issuer: f.issuer,
    serial_number: f.serialNumber,
    fingerprint: f.fingerprint,
    not_before: f.notBefore,
    not_after: f.notAfter,
  };
}

export async function insertCertificate(db: Db, mk: MasterKey, c: NewCertificate): Promise<CertificateRow> {
  const keyRef = randomUUID();
  const now = Date.now();
  return inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx);
    if (c.isDefault) await trx.updateTable('certificates').set({ is_default: 0 }).where('is_default', '=', 1).execute();
    const row = await trx
      .insertInto('certificates')
      .values({
        key_ref: keyRef,
        source: c.source,
        status: c.facts ? 'active' : 'pending',
        names_json: JSON.stringify(c.names),
        key_sealed: mk.encryptString(c.keyPem, keyAad(keyRef)),
        key_type: c.keyType,
        csr_pem: c.csrPem ?? null,
        ...(c.facts ? factColumns(c.facts) : {}),
        is_default: c.isDefault ? 1 : 0,
        acme_directory: c.acme?.directory ?? null,
        acme_challenge: c.acme?.challenge ?? null,
        renew_failures: 0,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return row;
  });
}

export function listCertificates(db: Db): Promise<CertificateRow[]> {
  return db.selectFrom('certificates').selectAll().orderBy('id').execute();
}

export async function findCertificate(db: Db, id: number): Promise<CertificateRow | null> {
  return (await db.selectFrom('certificates').selectAll().where('id', '=', id).executeTakeFirst()) ?? null;
}

/** The private key of a row; a clear error when the master key does not open it. */
export function openCertificateKey(mk: MasterKey, row: Pick<CertificateRow, 'id' | 'key_ref' | 'key_sealed'>): string {
  try {
    return mk.decryptString(row.key_sealed, keyAad(row.key_ref));
  } catch {
    throw new Error(`the private key of certificate ${row.id} cannot be opened with this master key (was the master key replaced?)`);
  }
}

/** A signed certificate for a pending CSR, or a renewed one (with its new key) replacing the old in place. */
export async function storeSignedCertificate(db: Db, mk: MasterKey, id: number, facts: CertificateFacts, newKey?: { keyPem: string; keyType: string; csrPem?: string }): Promise<CertificateRow> {
  return inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx);
    const row = await trx.selectFrom('certificates').select(['key_ref']).where('id', '=', id).executeTakeFirstOrThrow();
    return trx
      .updateTable('certificates')
      .set({
        ...factColumns(facts),
        status: 'active',
        ...(newKey ? { key_sealed: mk.encryptString(newKey.keyPem, keyAad(row.key_ref)), key_type: newKey.keyType, csr_pem: newKey.csrPem ?? null } : {}),
        renew_failures: 0,
        next_renew_attempt: null,
        last_error: null,
        updated_at: Date.now(),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

export async function setDefaultCertificate(db: Db, id: number): Promise<void> {
  await inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx);
    await trx.updateTable('certificates').set({ is_default: 0 }).where('is_default', '=', 1).execute();
    await trx.updateTable('certificates').set({ is_default: 1, updated_at: Date.now() }).where('id', '=', id).execute();
  });
}

export async function removeCertificate(db: Db, id: number): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx);
    const r = await trx.deleteFrom('certificates').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  });
}

/** ACME certificates whose renewal time has come (and whose retry wait, after a failure, is over). */
export function certificatesDueForRenewal(db: Db, renewBeforeMs: number, now = Date.now()): Promise<CertificateRow[]> {
  return db
    .selectFrom('certificates')
    .selectAll()
    .where('source', '=', 'acme')
    .where('status', '=', 'active')
    .where('not_after', '<=', now + renewBeforeMs)
    .where((eb) => eb.or([eb('next_renew_attempt', 'is', null), eb('next_renew_attempt', '<=', now)]))
    .orderBy('not_after')
    .execute();
}

export async function recordRenewalFailure(db: Db, id: number, error: string, nextAttempt: number): Promise<void> {
  // No serial bump: nothing the listeners serve changed.
  await db
    .updateTable('certificates')
    .set((eb) => ({ renew_failures: eb('renew_failures', '+', 1), last_error: error.slice(0, 2000), next_renew_attempt: nextAttempt, updated_at: Date.now() }))
    .where('id', '=', id)
    .execute();
}

// ---- ACME http-01 answers: in the database so that whichever worker the CA's request
// reaches can answer it.

export async function putAcmeChallenge(db: Db, token: string, keyAuthorization: string, ttlMs = 3_600_000): Promise<void> {
  await db
    .insertInto('acme_challenges')
    .values({ token, key_authorization: keyAuthorization, expires_at: Date.now() + ttlMs })
    .onConflict((oc) => oc.column('token').doUpdateSet({ key_authorization: keyAuthorization, expires_at: Date.now() + ttlMs }))
    .execute();
}

export async function findAcmeChallenge(db: Db, token: string): Promise<string | null> {
  const row = await db.selectFrom('acme_challenges').select('key_authorization').where('token', '=', token).where('expires_at', '>', Date.now()).executeTakeFirst();
  return row?.key_authorization ?? null;
}

export async function removeAcmeChallenge(db: Db, token: string): Promise<void> {
  await db.deleteFrom('acme_challenges').where((eb) => eb.or([eb('token', '=', token), eb('expires_at', '<=', Date.now())])).execute();
}

// ---- ACME accounts, one per directory URL.

export interface AcmeAccount {
  directoryUrl: string;
  keyPem: string;
  accountUrl: string | null;
  email: string | null;
}

const accountAad = (url: string) => `acme-account:${url}`;

export async function findAcmeAccount(db: Db, mk: MasterKey, directoryUrl: string): Promise<AcmeAccount | null> {
  const row = await db.selectFrom('acme_accounts').selectAll().where('directory_url', '=', directoryUrl).executeTakeFirst();
  if (!row) return null;
  return { directoryUrl, keyPem: mk.decryptString(row.key_sealed, accountAad(directoryUrl)), accountUrl: row.account_url, email: row.email };
}

export async function saveAcmeAccount(db: Db, mk: MasterKey, a: AcmeAccount): Promise<void> {
  const values = { key_sealed: mk.encryptString(a.keyPem, accountAad(a.directoryUrl)), account_url: a.accountUrl, email: a.email };
  await db
    .insertInto('acme_accounts')
    .values({ directory_url: a.directoryUrl, ...values, created_at: Date.now() })
    .onConflict((oc) => oc.column('directory_url').doUpdateSet(values))
    .execute();
}
