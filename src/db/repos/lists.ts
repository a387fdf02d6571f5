// Allow and block lists. An entry is an address, a domain (covering its subdomains) or
// a client network; it is global (owner '') or belongs to one recipient or domain (the
// portal edits those). Changes bump the configuration serial.
import { inTransaction } from '../transaction.ts';
import type { Db } from '../database.ts';
import type { FilterListKind, FilterListName, FilterListRow } from '../schema.ts';
import { bumpConfigSerial } from '../../config/settings.ts';
import { parseCidr } from '../../smtp/cidr.ts';
import { normaliseDomain, normaliseRecipientPattern } from './relay-policy.ts';
import { inDomains } from './domain-scope.ts';

export const LIST_NAMES: readonly FilterListName[] = ['allow-all', 'allow', 'recipient-allow', 'block'];

export const LIST_DESCRIPTIONS: Record<FilterListName, string> = {
  'allow-all': 'senders whose mail skips every check (global only)',
  allow: 'senders whose mail skips the spam checks',
  'recipient-allow': 'recipients whose mail skips the spam checks',
  block: 'senders whose mail is refused (554 5.7.1)',
};

export interface ListEntryInput {
  list: string;
  value: string;
  /** Recipient address or domain whose list this is; omitted or '' for the global list. */
  owner?: string;
  comment?: string | null;
}

export function checkListName(list: string): FilterListName {
  if (!LIST_NAMES.includes(list as FilterListName)) throw new Error(`unknown list "${list}": use one of ${LIST_NAMES.join(', ')}`);
  return list as FilterListName;
}

/** What kind of entry a value is, in canonical form. */
export function parseListValue(value: string): { kind: FilterListKind; value: string } {
  const v = value.trim().toLowerCase();
  if (!v) throw new Error('empty list entry');
  if (v.includes('@')) {
    // "*@example.com" and "@example.com" mean the domain.
    const p = normaliseRecipientPattern(v.startsWith('@') ? `*${v}` : v).pattern;
    if (p.startsWith('*@')) return { kind: 'domain', value: p.slice(2) };
    return { kind: 'address', value: p };
  }
  if (/^[0-9.]+(\/\d+)?$/.test(v) || v.includes(':')) return { kind: 'network', value: parseCidr(v).canonical };
  return { kind: 'domain', value: normaliseDomain(v.replace(/^\*?\./, '')) };
}

export function normaliseOwner(owner: string | undefined): string {
  if (!owner) return '';
  const o = owner.trim().toLowerCase();
  if (o.includes('@')) return normaliseRecipientPattern(o).pattern;
  return normaliseDomain(o);
}

export async function addListEntry(db: Db, e: ListEntryInput): Promise<FilterListRow> {
  const list = checkListName(e.list);
  const owner = normaliseOwner(e.owner);
  if (list === 'allow-all' && owner) throw new Error('the allow-all list is global: it has no per-recipient entries');
  const { kind, value } = parseListValue(e.value);
  if (list === 'recipient-allow' && kind === 'network') throw new Error('recipient-allow entries are addresses or domains, not networks');
  const row = { list, owner, kind, value, comment: e.comment ?? null, created_at: Date.now() };
  return inTransaction(db, async (trx) => {
    await trx
      .insertInto('filter_lists')
      .values(row)
      .onConflict((oc) => oc.columns(['list', 'owner', 'value']).doUpdateSet({ comment: row.comment }))
      .execute();
    await bumpConfigSerial(trx);
    return (await trx.selectFrom('filter_lists').selectAll().where('list', '=', list).where('owner', '=', owner).where('value', '=', value).executeTakeFirstOrThrow());
  });
}

export async function removeListEntry(db: Db, e: ListEntryInput): Promise<boolean> {
  const list = checkListName(e.list);
  const owner = normaliseOwner(e.owner);
  const { value } = parseListValue(e.value);
  return inTransaction(db, async (trx) => {
    const res = await trx.deleteFrom('filter_lists').where('list', '=', list).where('owner', '=', owner).where('value', '=', value).executeTakeFirst();
    await bumpConfigSerial(trx);
    return Number(res.numDeletedRows) > 0;
  });
}

export function listEntries(db: Db, filter: { list?: string; owner?: string } = {}): Promise<FilterListRow[]> {
  let q = db.selectFrom('filter_lists').selectAll();
  if (filter.list) q = q.where('list', '=', checkListName(filter.list));
  if (filter.owner !== undefined) q = q.where('owner', '=', normaliseOwner(filter.owner));
  return q.orderBy('list').orderBy('owner').orderBy('value').execute();
}

/** One page of list entries by id, filtered in SQL; `scope` limits to entries owned within those domains. */
export function pageListEntries(db: Db, o: { afterId?: number; list?: FilterListName; owner?: string; scope?: readonly string[]; limit: number }): Promise<FilterListRow[]> {
  let q = db.selectFrom('filter_lists').selectAll();
  if (o.afterId !== undefined) q = q.where('id', '>', o.afterId);
  if (o.list) q = q.where('list', '=', o.list);
  if (o.owner !== undefined) q = q.where('owner', '=', normaliseOwner(o.owner));
  if (o.scope) {
    const scope = o.scope;
    // An owner is an address or a domain: its domain part decides.
    q = q.where((eb) => eb.or([inDomains(eb, 'owner', scope), ...scope.map((d) => eb('owner', 'like', `%@${d}`)), ...scope.map((d) => eb('owner', 'like', `%@%.${d}`))]));
  }
  return q.orderBy('id').limit(o.limit).execute();
}

export function getListEntry(db: Db, id: number): Promise<FilterListRow | undefined> {
  return db.selectFrom('filter_lists').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function removeListEntryById(db: Db, id: number): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const res = await trx.deleteFrom('filter_lists').where('id', '=', id).executeTakeFirst();
    await bumpConfigSerial(trx);
    return Number(res.numDeletedRows) > 0;
  });
}

export function findListEntry(db: Db, list: FilterListName, owner: string, value: string): Promise<FilterListRow | undefined> {
  return db.selectFrom('filter_lists').selectAll().where('list', '=', list).where('owner', '=', owner).where('value', '=', value).executeTakeFirst();
}
