import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

/**
 * delivery.retry.delayWarningSec: a recipient deferred longer than that gets one "delayed"
 * DSN; the time it was sent is kept with the recipient, so it is sent once, whichever
 * node or worker makes the later attempts.
 */
export const m0021_delay_warning: Migration = {
  version: 21,
  name: 'recipients: when the delay warning (DSN Action: delayed) was sent',
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('recipients')
      .addColumn('delay_warned_at', 'bigint')
      .execute()
      .catch((err: unknown) => {
        // An interrupted upgrade is run again: a column already added is not an error.
        if (!/duplicate column|already exists/i.test(String((err as Error)?.message))) throw err;
      });
  },
};
