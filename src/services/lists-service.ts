// Allow and block lists: global (administrators) or a recipient's or domain's own list
// (its domain administrator too). Entries are addresses, domains or client networks.
import type { Db } from '../db/database.ts';
import { addListEntry, checkListName, findListEntry, getListEntry, LIST_DESCRIPTIONS, LIST_NAMES, normaliseOwner, pageListEntries, parseListValue, removeListEntryById } from '../db/repos/lists.ts';
import type { FilterListName, FilterListRow } from '../db/schema.ts';
import { loadFilterConfig } from '../pipeline/decide/filter-config.ts';
import { assertCan, assertDomain, domainOf, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { decodeCursor, pageSize, toPage, type Page } from './page.ts';
import { ServiceError } from './service-error.ts';
import { checked, iso } from './validation.ts';

export { LIST_DESCRIPTIONS, LIST_NAMES };

export interface ListEntry {
  id: number;
  list: FilterListName;
  /** '' for the global list, else the recipient address or domain whose list it is. */
  owner: string;
  kind: string;
  value: string;
  comment: string | null;
  createdAt: string | null;
}

export interface ListEntryInput {
  list: string;
  value: string;
  owner?: string;
  comment?: string | null;
}

export const toListEntry = (r: FilterListRow): ListEntry => ({ id: Number(r.id), list: r.list, owner: r.owner, kind: r.kind, value: r.value, comment: r.comment, createdAt: iso(r.created_at) });

function ownerDomain(owner: string): string {
  return owner.includes('@') ? domainOf(owner) : owner;
}

/** The global list is for administrators; a recipient's or domain's own list also for its domain administrator. */
function assertOwner(actor: Actor, owner: string): void {
  if (owner === '') {
    if (actor.domains !== null) throw new ServiceError('forbidden', 'the global lists are for administrators; give the recipient or domain whose list it is (owner)');
    return;
  }
  assertDomain(actor, ownerDomain(owner));
}

export async function listListEntries(db: Db, actor: Actor, q: { list?: string; owner?: string; cursor?: string; limit?: number } = {}): Promise<Page<ListEntry>> {
  assertCan(actor, 'lists.read');
  const limit = pageSize(q.limit);
  const list = q.list ? checked('list', () => checkListName(q.list!)) : undefined;
  const owner = q.owner !== undefined ? checked('owner', () => normaliseOwner(q.owner)) : undefined;
  if (owner) assertOwner(actor, owner);
  const afterId = decodeCursor(q.cursor, (v): v is number => Number.isInteger(v));
  const rows = await pageListEntries(db, {
    ...(afterId !== undefined ? { afterId } : {}),
    ...(list ? { list } : {}),
    ...(owner !== undefined ? { owner } : {}),
    ...(actor.domains ? { scope: actor.domains } : {}),
    limit: limit + 1,
  });
  return toPage(rows, limit, toListEntry, (r) => Number(r.id));
}

export async function addToList(db: Db, actor: Actor, e: ListEntryInput): Promise<ListEntry> {
  assertCan(actor, 'lists.write');
  const list = checked('list', () => checkListName(e.list));
  const owner = checked('owner', () => normaliseOwner(e.owner));
  checked('value', () => parseListValue(String(e.value ?? '')));
  assertOwner(actor, owner);
  return db.transaction().execute(async (trx) => {
    const row = await checked('value', () => addListEntry(trx, { list, value: e.value, owner, comment: e.comment ?? null })).catch((err: Error) => {
      throw err instanceof ServiceError ? err : new ServiceError('invalid', err.message, { value: err.message });
    });
    const after = toListEntry(row);
    await recordChange(trx, actor, { action: 'list.add', targetType: 'list-entry', targetId: String(after.id), domain: owner ? ownerDomain(owner) : null, after });
    return after;
  });
}

export async function removeListEntry(db: Db, actor: Actor, id: number): Promise<void> {
  assertCan(actor, 'lists.write');
  await db.transaction().execute(async (trx) => {
    const before = await getListEntry(trx, id);
    if (!before) throw new ServiceError('not_found', `no list entry ${id}`);
    assertOwner(actor, before.owner);
    await removeListEntryById(trx, id);
    await recordChange(trx, actor, { action: 'list.remove', targetType: 'list-entry', targetId: String(id), domain: before.owner ? ownerDomain(before.owner) : null, before: toListEntry(before) });
  });
}

/** Removes by list, value and owner (the CLI's "lists remove"). */
export async function removeFromList(db: Db, actor: Actor, e: ListEntryInput): Promise<boolean> {
  assertCan(actor, 'lists.write');
  const list = checked('list', () => checkListName(e.list));
  const owner = checked('owner', () => normaliseOwner(e.owner));
  const { value } = checked('value', () => parseListValue(e.value));
  assertOwner(actor, owner);
  const row = await findListEntry(db, list, owner, value);
  if (!row) return false;
  await removeListEntry(db, actor, Number(row.id));
  return true;
}

export interface ListCheck {
  allowAll: string | null;
  recipients: Array<{ recipient: string; block: string | null; skipSpam: string | null }>;
}

/** What the lists say about a message: sender, recipients, client address. */
export async function checkLists(db: Db, actor: Actor, q: { from: string; to: string[]; ip?: string; dmarcPass?: boolean }): Promise<ListCheck> {
  assertCan(actor, 'lists.read');
  for (const r of q.to) if (r.includes('@')) assertDomain(actor, domainOf(r));
  const { lists } = await loadFilterConfig(db, 0);
  const from = q.from.trim().toLowerCase();
  const v = lists.evaluate({
    mailFrom: from,
    clientIp: q.ip ?? '192.0.2.1',
    fromAddresses: [from],
    dmarcPassDomain: q.dmarcPass ? from.slice(from.lastIndexOf('@') + 1) : null,
    recipients: q.to.map((r) => r.trim()).filter(Boolean),
  });
  return {
    allowAll: v.allowAll ?? null,
    recipients: [...v.recipients].map(([recipient, m]) => ({ recipient, block: m.block ?? null, skipSpam: m.skipSpam ?? null })),
  };
}
