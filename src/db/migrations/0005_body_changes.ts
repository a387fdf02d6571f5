import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

// Body changes (banner, disclaimer, signature): templates with their inline images,
// rules saying which template applies to which mail, exemptions, per-sender signature
// fields and sender groups. See db/repos/body-changes.ts.
export const m0005_body_changes: Migration = {
  version: 5,
  name: 'body changes: templates, rules, exemptions, sender fields and groups',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('body_templates')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('text_body', 'text')
      .addColumn('html_body', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('body_template_images')
      .ifNotExists()
      .addColumn('template_id', 'integer', (c) => c.notNull().references('body_templates.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('content_type', 'text', (c) => c.notNull())
      .addColumn('filename', 'text', (c) => c.notNull())
      .addColumn('data', 'blob', (c) => c.notNull())
      .addPrimaryKeyConstraint('body_template_images_pk', ['template_id', 'name'])
      .execute();
    await db.schema
      .createTable('body_rules')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('template_id', 'integer', (c) => c.notNull().references('body_templates.id').onDelete('cascade'))
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('internal', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('body_rules_kind_scope_value', ['kind', 'scope', 'value'])
      .execute();
    await db.schema
      .createTable('body_exemptions')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('body_exemptions_kind_type_value', ['kind', 'type', 'value'])
      .execute();
    await db.schema
      .createTable('sender_fields')
      .ifNotExists()
      .addColumn('address', 'text', (c) => c.primaryKey())
      .addColumn('fields', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('sender_groups')
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('member', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('sender_groups_pk', ['name', 'member'])
      .execute();
    await db.schema.createIndex('sender_groups_member').ifNotExists().on('sender_groups').column('member').execute();
  },
};
