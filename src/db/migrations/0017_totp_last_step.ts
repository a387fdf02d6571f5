import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

/**
 * The last TOTP time step a user signed in (or enrolled) with: a code is accepted only for
 * a later step, so a code seen over a shoulder or phished cannot be used again within the
 * 30 to 90 seconds it stays valid (RFC 6238 section 5.2).
 */
export const m0017_totp_last_step: Migration = {
  version: 17,
  name: 'users.totp_last_step: TOTP codes are single-use',
  async up(db: Kysely<any>) {
    const users = (await db.introspection.getTables()).find((t) => t.name === 'users');
    if (users && !users.columns.some((c) => c.name === 'totp_last_step')) {
      await db.schema.alterTable('users').addColumn('totp_last_step', 'bigint').execute();
    }
  },
};
