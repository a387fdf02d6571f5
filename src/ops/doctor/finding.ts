// What a doctor check reports, and what every check is given to look at.
import type { LoadedConfig } from '../../config/bootstrap.ts';
import type { Settings } from '../../config/settings.ts';
import type { Db } from '../../db/database.ts';
import type { DkimKeyRow, RelayDomainRow } from '../../db/schema.ts';
import type { DnsResolver } from '../../dns/resolver.ts';

export type FindingStatus = 'ok' | 'warn' | 'fail';

export interface Finding {
  /** Which check ("dns", "mx", "tls", ...). */
  check: string;
  /** What it looked at: a domain, a host, a path; "" when there is only one thing. */
  subject: string;
  status: FindingStatus;
  /** What was found. */
  message: string;
  /** What to do about it, in words (absent when all is well). */
  fix?: string;
}

export interface DoctorContext {
  config: LoadedConfig;
  db: Db;
  settings: Settings;
  dns: DnsResolver;
  domains: RelayDomainRow[];
  /** Active DKIM keys (they sign, so their record must be published). */
  dkimKeys: DkimKeyRow[];
  /** Deadline for one network probe (SMTP greeting, engine ping). */
  probeTimeoutMs: number;
  now: number;
}

export type DoctorCheck = (ctx: DoctorContext) => Promise<Finding[]>;

/** node:dns codes meaning "the name or record does not exist" (an answer, not a failure). */
export function isNoRecord(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

export const finding = (check: string, subject: string, status: FindingStatus, message: string, fix?: string): Finding =>
  fix === undefined ? { check, subject, status, message } : { check, subject, status, message, fix };
