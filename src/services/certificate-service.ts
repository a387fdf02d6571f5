// TLS certificates: import (PEM or PKCS#12, checked first), key + CSR for a CA, ACME
// (issue and renew), the default, removal. Only administrators change them (auditors
// read). Private keys are sealed as they enter and never leave: views and audit
// entries show the certificate's public facts, a pending CSR (public too) at most.
import { createPrivateKey } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../db/database.ts';
import { inTransaction } from '../db/transaction.ts';
import {
  certificatesDueForRenewal,
  findCertificate,
  insertCertificate,
  listCertificates as listRows,
  openCertificateKey,
  recordRenewalFailure,
  removeCertificate as removeRow,
  setDefaultCertificate,
  storeSignedCertificate,
  type CertificateRow,
} from '../db/repos/certificates.ts';
import { listRelayDomains } from '../db/repos/relay-policy.ts';
import type { MasterKey } from '../keys/master-key.ts';
import { ACME_CHALLENGES, directoryUrl, issueWithAcme, type AcmeChallengeType } from '../tls/acme.ts';
import { factsOf } from '../tls/certificate-facts.ts';
import { checkImport, ImportError, type ImportInput } from '../tls/import-bundle.ts';
import { generatePrivateKey, makeCsr, normaliseNames, parseKeyType } from '../tls/key-pair.ts';
import { assertCan, SYSTEM_ACTOR, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { check } from './repo-errors.ts';
import { ServiceError } from './service-error.ts';
import { invalid, iso } from './validation.ts';

const DAY = 86_400_000;
/** ACME certificates are renewed this long before they expire. */
export const RENEW_BEFORE_DAYS = 30;
/** After a failed renewal: 1 h, 2 h, 4 h ... at most a day between attempts. */
export function renewalRetryDelayMs(failures: number): number {
  return Math.min(DAY, 3_600_000 * 2 ** Math.max(0, failures - 1));
}

export interface CertificateView {
  id: number;
  source: 'import' | 'csr' | 'acme';
  /** pending: a CSR waiting for its signed certificate. */
  status: 'pending' | 'active' | 'expired';
  names: string[];
  isDefault: boolean;
  keyType: string;
  subject: string | null;
  issuer: string | null;
  serialNumber: string | null;
  fingerprint: string | null;
  notBefore: string | null;
  notAfter: string | null;
  /** Number of certificates in the served chain (leaf included). */
  chainLength: number;
  /** The CSR to give a CA (pending only). */
  csr: string | null;
  acme: { directory: string; challenge: string; renewAfter: string | null; failures: number; nextAttempt: string | null; lastError: string | null } | null;
  createdAt: string;
  updatedAt: string;
}

function toView(r: CertificateRow, now = Date.now()): CertificateView {
  const notAfter = r.not_after === null ? null : Number(r.not_after);
  return {
    id: r.id,
    source: r.source,
    status: r.status === 'pending' ? 'pending' : notAfter !== null && notAfter <= now ? 'expired' : 'active',
    names: JSON.parse(r.names_json) as string[],
    isDefault: r.is_default === 1,
    keyType: r.key_type,
    subject: r.subject,
    issuer: r.issuer,
    serialNumber: r.serial_number,
    fingerprint: r.fingerprint,
    notBefore: iso(r.not_before === null ? null : Number(r.not_before)),
    notAfter: iso(notAfter),
    chainLength: r.cert_pem ? (r.cert_pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length : 0,
    csr: r.status === 'pending' ? r.csr_pem : null,
    acme:
      r.source === 'acme'
        ? {
            directory: r.acme_directory ?? '',
            challenge: r.acme_challenge ?? 'http-01',
            renewAfter: iso(notAfter === null ? null : notAfter - RENEW_BEFORE_DAYS * DAY),
            failures: r.renew_failures,
            nextAttempt: iso(r.next_renew_attempt === null ? null : Number(r.next_renew_attempt)),
            lastError: r.last_error,
          }
        : null,
    createdAt: iso(Number(r.created_at))!,
    updatedAt: iso(Number(r.updated_at))!,
  };
}

async function rowOrThrow(db: Db, id: number): Promise<CertificateRow> {
  if (!Number.isInteger(id) || id <= 0) throw invalid('id', `"${id}" is not a certificate id (see "hermes certs list")`);
  const row = await findCertificate(db, id);
  if (!row) throw new ServiceError('not_found', `no certificate ${id} (see "hermes certs list")`);
  return row;
}

export async function listCertificates(db: Db, actor: Actor): Promise<CertificateView[]> {
  assertCan(actor, 'certificates.read');
  const now = Date.now();
  return (await listRows(db)).map((r) => toView(r, now));
}

export async function getCertificate(db: Db, actor: Actor, id: number): Promise<CertificateView> {
  assertCan(actor, 'certificates.read');
  return toView(await rowOrThrow(db, id));
}

export interface ImportRequest extends ImportInput {
  isDefault?: boolean;
}

/**
 * Imports a certificate with its chain and key, or, without a key, the signed
 * certificate for a pending CSR (matched by its public key). Checked first: a refused
 * import changes nothing.
 */
export async function importCertificate(db: Db, actor: Actor, mk: MasterKey, input: ImportRequest): Promise<CertificateView> {
  assertCan(actor, 'certificates.write');
  const names = input.names?.length ? check(() => normaliseNames(input.names!), 'names') : undefined;
  let checked;
  try {
    checked = await checkImport({ ...input, ...(names ? { names } : {}) });
  } catch (err) {
    if (err instanceof ImportError) throw invalid(err.field, err.message);
    throw err;
  }
  return inTransaction(db, async (trx) => {
    if (checked.keyPem === null) {
      const pending = (await listRows(trx)).filter((r) => r.status === 'pending');
      const match = pending.find((r) => checked.leaf.checkPrivateKey(createPrivateKey(openCertificateKey(mk, r))));
      if (!match) throw invalid('key', 'no private key given, and the certificate belongs to no pending CSR of this gateway: give the key too (or the PKCS#12 file)');
      const row = await storeSignedCertificate(trx, mk, match.id, checked.facts);
      if (input.isDefault) await setDefaultCertificate(trx, row.id);
      const view = toView((await findCertificate(trx, row.id))!);
      await recordChange(trx, actor, { action: 'certificate.complete', targetType: 'certificate', targetId: String(row.id), before: toView(match), after: view });
      return view;
    }
    const row = await insertCertificate(trx, mk, { source: 'import', names: checked.facts.names, keyPem: checked.keyPem, keyType: checked.keyType ?? 'unknown', facts: checked.facts, isDefault: !!input.isDefault });
    const view = toView(row);
    await recordChange(trx, actor, { action: 'certificate.import', targetType: 'certificate', targetId: String(row.id), after: view });
    return view;
  });
}

/** Autoconfig/autodiscover names of the relay domains, and the host name: what mail clients look up. */
export async function suggestedNames(db: Db, actor: Actor, hostname: string): Promise<string[]> {
  assertCan(actor, 'certificates.read');
  const domains = (await listRelayDomains(db)).map((d) => d.domain);
  return [...new Set([hostname.toLowerCase(), ...domains.flatMap((d) => [`autoconfig.${d}`, `autodiscover.${d}`])])];
}

/** A new key (sealed at once) and a CSR for `names`; import the signed certificate later. */
export async function createCsr(db: Db, actor: Actor, mk: MasterKey, input: { names: string[]; keyType?: string }): Promise<CertificateView> {
  assertCan(actor, 'certificates.write');
  const names = check(() => normaliseNames(input.names ?? []), 'names');
  const keyType = check(() => parseKeyType(input.keyType ?? 'ec-p256'), 'keyType');
  const keyPem = generatePrivateKey(keyType);
  const csrPem = await makeCsr(keyPem, names);
  return inTransaction(db, async (trx) => {
    const row = await insertCertificate(trx, mk, { source: 'csr', names, keyPem, keyType, csrPem });
    const view = toView(row);
    await recordChange(trx, actor, { action: 'certificate.csr', targetType: 'certificate', targetId: String(row.id), after: view });
    return view;
  });
}

export interface AcmeRequest {
  names: string[];
  /** letsencrypt (default), letsencrypt-staging, or a directory URL. */
  directory?: string;
  email?: string;
  challenge?: string;
  keyType?: string;
  isDefault?: boolean;
}

function challengeOf(c: string | undefined): AcmeChallengeType {
  const v = (c ?? 'http-01') as AcmeChallengeType;
  if (!ACME_CHALLENGES.includes(v)) throw invalid('challenge', `unsupported ACME challenge "${c}": use ${ACME_CHALLENGES.join(', ')}`);
  return v;
}

function acmeFailure(err: unknown): ServiceError {
  const e = err as Error & { code?: string };
  // A CA that refuses or cannot validate is the admin's to fix (DNS, port 80): not a server error.
  return new ServiceError('unavailable', `the ACME order failed: ${e.message}`);
}

/** Orders a certificate from an ACME CA now (the gateway must be answering http-01 on port 80). */
export async function requestAcmeCertificate(db: Db, actor: Actor, mk: MasterKey, input: AcmeRequest, log: Logger): Promise<CertificateView> {
  assertCan(actor, 'certificates.write');
  const names = check(() => normaliseNames(input.names ?? []), 'names');
  if (names.some((n) => n.startsWith('*.'))) throw invalid('names', 'wildcard names need the dns-01 challenge, which Hermes does not do: list the host names');
  const url = check(() => directoryUrl(input.directory), 'directory');
  const challenge = challengeOf(input.challenge);
  const keyType = check(() => parseKeyType(input.keyType ?? 'ec-p256'), 'keyType');
  if (input.email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(input.email)) throw invalid('email', `"${input.email}" is not an e-mail address`);
  let issued;
  try {
    issued = await issueWithAcme(db, mk, { directoryUrl: url, names, email: input.email ?? null, challenge, keyType }, log);
  } catch (err) {
    throw acmeFailure(err);
  }
  const facts = factsOf(issued.chainPem);
  return inTransaction(db, async (trx) => {
    const row = await insertCertificate(trx, mk, { source: 'acme', names, keyPem: issued.keyPem, keyType, csrPem: issued.csrPem, facts, isDefault: !!input.isDefault, acme: { directory: url, challenge } });
    const view = toView(row);
    await recordChange(trx, actor, { action: 'certificate.acme', targetType: 'certificate', targetId: String(row.id), after: view });
    return view;
  });
}

/** Renews an ACME certificate now (new key, same names); the listeners serve it at once. */
export async function renewCertificate(db: Db, actor: Actor, mk: MasterKey, id: number, log: Logger): Promise<CertificateView> {
  assertCan(actor, 'certificates.write');
  const row = await rowOrThrow(db, id);
  if (row.source !== 'acme') throw new ServiceError('conflict', `certificate ${id} is not from ACME: renew it with its CA and import the new one ("hermes certs csr" makes a new key and CSR)`);
  const before = toView(row);
  const names = JSON.parse(row.names_json) as string[];
  let issued;
  try {
    issued = await issueWithAcme(db, mk, { directoryUrl: row.acme_directory!, names, challenge: challengeOf(row.acme_challenge ?? undefined), keyType: check(() => parseKeyType(row.key_type), 'keyType') }, log);
  } catch (err) {
    const failure = acmeFailure(err);
    const failures = row.renew_failures + 1;
    await recordRenewalFailure(db, id, failure.message, Date.now() + renewalRetryDelayMs(failures));
    await recordChange(db, actor, { action: 'certificate.renew-failed', targetType: 'certificate', targetId: String(id), before, after: toView((await findCertificate(db, id))!) });
    throw failure;
  }
  return inTransaction(db, async (trx) => {
    const updated = await storeSignedCertificate(trx, mk, id, factsOf(issued.chainPem), { keyPem: issued.keyPem, keyType: row.key_type, csrPem: issued.csrPem });
    const view = toView(updated);
    await recordChange(trx, actor, { action: 'certificate.renew', targetType: 'certificate', targetId: String(id), before, after: view });
    return view;
  });
}

export interface RenewalRun {
  renewed: CertificateView[];
  failed: Array<{ id: number; names: string[]; error: string; nextAttempt: string | null }>;
}

/** Renews every ACME certificate within RENEW_BEFORE_DAYS of expiry whose retry wait is over (the gateway's timer). */
export async function renewDueCertificates(db: Db, mk: MasterKey, log: Logger, actor: Actor = SYSTEM_ACTOR): Promise<RenewalRun> {
  const out: RenewalRun = { renewed: [], failed: [] };
  for (const row of await certificatesDueForRenewal(db, RENEW_BEFORE_DAYS * DAY)) {
    try {
      const v = await renewCertificate(db, actor, mk, row.id, log);
      log.info({ certificate: row.id, names: v.names, notAfter: v.notAfter }, 'certificate renewed');
      out.renewed.push(v);
    } catch (err) {
      const v = toView((await findCertificate(db, row.id)) ?? row);
      // The admin notice: an error in the log, the audit entry (renewCertificate wrote
      // it) and a `hermes doctor` finding until a renewal succeeds.
      log.error({ certificate: row.id, names: v.names, notAfter: v.notAfter, nextAttempt: v.acme?.nextAttempt, err: (err as Error).message }, 'certificate renewal failed');
      out.failed.push({ id: row.id, names: v.names, error: (err as Error).message, nextAttempt: v.acme?.nextAttempt ?? null });
    }
  }
  return out;
}

export async function setDefault(db: Db, actor: Actor, id: number): Promise<CertificateView> {
  assertCan(actor, 'certificates.write');
  return inTransaction(db, async (trx) => {
    const row = await rowOrThrow(trx, id);
    if (row.status === 'pending') throw new ServiceError('conflict', `certificate ${id} is a CSR still waiting for its signed certificate`);
    const before = toView(row);
    await setDefaultCertificate(trx, id);
    const view = toView((await findCertificate(trx, id))!);
    await recordChange(trx, actor, { action: 'certificate.default', targetType: 'certificate', targetId: String(id), before, after: view });
    return view;
  });
}

export async function removeCertificate(db: Db, actor: Actor, id: number): Promise<CertificateView> {
  assertCan(actor, 'certificates.write');
  return inTransaction(db, async (trx) => {
    const view = toView(await rowOrThrow(trx, id));
    await removeRow(trx, id);
    await recordChange(trx, actor, { action: 'certificate.remove', targetType: 'certificate', targetId: String(id), before: view });
    return view;
  });
}
