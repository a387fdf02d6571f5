// Certificates from an ACME CA (RFC 8555) with acme-client: Let's Encrypt (production or
// staging) or any directory URL (pebble in tests, a private CA). The http-01 answers go
// into the database, where the port-80 listener of whichever worker the CA reaches
// finds them (tls/acme-http-server.ts); so `hermes certs acme` works from the CLI while
// the gateway serves the challenge. The account key is kept per directory, sealed.
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import type { Logger } from 'pino';
import type { Db } from '../db/database.ts';
import { findAcmeAccount, putAcmeChallenge, removeAcmeChallenge, saveAcmeAccount } from '../db/repos/certificates.ts';
import type { MasterKey } from '../keys/master-key.ts';
import { generatePrivateKey, makeCsr } from './key-pair.ts';

export const ACME_DIRECTORIES: Record<string, string> = {
  letsencrypt: acme.directory.letsencrypt.production,
  'letsencrypt-staging': acme.directory.letsencrypt.staging,
};

export const ACME_CHALLENGES = ['http-01'] as const;
export type AcmeChallengeType = (typeof ACME_CHALLENGES)[number];

/** "letsencrypt", "letsencrypt-staging" or an https:// directory URL, to the URL. */
export function directoryUrl(nameOrUrl: string | undefined): string {
  const v = (nameOrUrl ?? 'letsencrypt').trim();
  if (ACME_DIRECTORIES[v]) return ACME_DIRECTORIES[v]!;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Error(`unknown ACME directory "${v}": use letsencrypt, letsencrypt-staging or the directory's https:// URL`);
  }
  if (u.protocol !== 'https:') throw new Error(`the ACME directory must be an https:// URL (got ${v})`);
  return u.toString();
}

let trustedCaFile: string | null = null;

/**
 * Also trust this CA for ACME directories (the bootstrap file's acme.caFile: pebble's or
 * a private CA's root). The public roots stay trusted.
 */
export function trustAcmeCa(file: string | null | undefined): void {
  if (!file || file === trustedCaFile) return;
  const extra = readFileSync(file, 'utf8');
  acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, extra] });
  trustedCaFile = file;
}

export interface AcmeOrder {
  directoryUrl: string;
  names: string[];
  email?: string | null;
  challenge: AcmeChallengeType;
  keyType?: Parameters<typeof generatePrivateKey>[0];
}

export interface AcmeResult {
  keyPem: string;
  csrPem: string;
  /** Leaf then chain, as the CA sent it. */
  chainPem: string;
}

async function clientFor(db: Db, mk: MasterKey, url: string, email: string | null | undefined): Promise<acme.Client> {
  let account = await findAcmeAccount(db, mk, url);
  if (!account) {
    account = { directoryUrl: url, keyPem: generatePrivateKey('ec-p256'), accountUrl: null, email: email ?? null };
    await saveAcmeAccount(db, mk, account);
  }
  const client = new acme.Client({ directoryUrl: url, accountKey: account.keyPem, ...(account.accountUrl ? { accountUrl: account.accountUrl } : {}) });
  if (!account.accountUrl) {
    await client.createAccount({ termsOfServiceAgreed: true, ...(account.email ? { contact: [`mailto:${account.email}`] } : {}) });
    await saveAcmeAccount(db, mk, { ...account, accountUrl: client.getAccountUrl() });
  }
  return client;
}

/** Runs a whole order: account, authorizations, challenges, finalize, download. */
export async function issueWithAcme(db: Db, mk: MasterKey, o: AcmeOrder, log: Logger): Promise<AcmeResult> {
  const client = await clientFor(db, mk, o.directoryUrl, o.email);
  const keyPem = generatePrivateKey(o.keyType ?? 'ec-p256');
  const csrPem = await makeCsr(keyPem, o.names);
  const order = await client.createOrder({ identifiers: o.names.map((value) => ({ type: 'dns', value })) });
  const tokens: string[] = [];
  try {
    for (const authz of await client.getAuthorizations(order)) {
      if (authz.status === 'valid') continue;
      const challenge = authz.challenges.find((c) => c.type === o.challenge);
      if (!challenge) throw new Error(`the CA offers no ${o.challenge} challenge for ${authz.identifier.value} (it offers ${authz.challenges.map((c) => c.type).join(', ')})`);
      await putAcmeChallenge(db, challenge.token, await client.getChallengeKeyAuthorization(challenge));
      tokens.push(challenge.token);
      await client.completeChallenge(challenge);
      try {
        await client.waitForValidStatus(challenge);
      } catch (err) {
        throw new Error(`the CA could not validate ${authz.identifier.value} by ${o.challenge} (it fetches http://${authz.identifier.value}/.well-known/acme-challenge/${challenge.token} on port 80): ${(err as Error).message}`);
      }
      log.info({ name: authz.identifier.value, challenge: o.challenge }, 'ACME authorization valid');
    }
    const finalized = await client.finalizeOrder(order, csrPem);
    const chainPem = await client.getCertificate(finalized);
    return { keyPem, csrPem, chainPem };
  } finally {
    for (const t of tokens) await removeAcmeChallenge(db, t).catch(() => {});
  }
}
