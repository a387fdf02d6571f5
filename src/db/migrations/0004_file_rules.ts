import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';
import { DEFAULT_FILE_RULE_SET } from '../../pipeline/filter/attachments/default-rules.ts';

// File rule sets (Hermes's File Rules) for the attachment stage, and the shipped
// "default" set. The default is inserted only when absent: running this again, or
// after an admin edited the set, changes nothing ("hermes filerules reset default"
// restores the shipped rules on purpose).
export const m0004_file_rules: Migration = {
  version: 4,
  name: 'File rule sets for banned attachments, with the shipped default set',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('file_rule_sets')
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('file_rules')
      .ifNotExists()
      .addColumn('rule_set', 'text', (c) => c.notNull().references('file_rule_sets.name').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      /** JSON array of strings. */
      .addColumn('vals', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('in_archives', 'integer', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('file_rules_pk', ['rule_set', 'name'])
      .execute();
    const now = Date.now();
    const set = DEFAULT_FILE_RULE_SET;
    const inserted = await db
      .insertInto('file_rule_sets')
      .values({ name: set.name, description: set.description, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return;
    await db
      .insertInto('file_rules')
      .values(
        set.rules.map((r, i) => ({
          rule_set: set.name,
          name: r.name,
          position: i + 1,
          kind: r.kind,
          vals: JSON.stringify(r.values),
          action: r.action,
          in_archives: r.inArchives ? 1 : 0,
          description: r.description,
        })),
      )
      .onConflict((oc) => oc.columns(['rule_set', 'name']).doNothing())
      .execute();
  },
};
