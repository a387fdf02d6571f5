// Numbered migrations, applied in order and recorded in the `migrations` table. Each is
// written so that running it again changes nothing (ifNotExists everywhere), so an
// interrupted upgrade can simply be run again.
import type { Kysely } from 'kysely';
import { m0001_core } from './0001_core.ts';
import { m0002_dkim_keys } from './0002_dkim_keys.ts';
import { m0003_content_filter } from './0003_content_filter.ts';
import { m0004_file_rules } from './0004_file_rules.ts';
import { m0005_body_changes } from './0005_body_changes.ts';
import { m0006_quarantine_rules } from './0006_quarantine_rules.ts';
import { m0007_audit_log } from './0007_audit_log.ts';
import { m0008_accounts } from './0008_accounts.ts';
import { m0010_console_indexes } from './0010_console_indexes.ts';
import { m0015_portal } from './0015_portal.ts';
import { m0011_certificates } from './0011_certificates.ts';
import { m0012_submission_transport } from './0012_submission_transport.ts';
import { m0013_encryption_keys } from './0013_encryption_keys.ts';
import { m0017_totp_last_step } from './0017_totp_last_step.ts';
import { m0020_cluster } from './0020_cluster.ts';
import { m0021_delay_warning } from './0021_delay_warning.ts';

export interface Migration {
  version: number;
  name: string;
  up(db: Kysely<any>): Promise<void>;
}

export const MIGRATIONS: Migration[] = [
  m0001_core, m0002_dkim_keys, m0003_content_filter, m0004_file_rules, m0005_body_changes, m0006_quarantine_rules, m0007_audit_log, m0008_accounts,
  m0010_console_indexes, m0011_certificates, m0012_submission_transport, m0013_encryption_keys,
  m0015_portal, m0017_totp_last_step,
  m0020_cluster, m0021_delay_warning,
];
