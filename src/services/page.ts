// Cursor pagination for every list the API and console show. A cursor is opaque to
// clients (base64url JSON of the last row's sort key), so a deep page costs the same
// index seek as the first one, at any table size, unlike OFFSET.
import { ServiceError } from './service-error.ts';

import type { Page } from '../shared/page.ts';

export type { Page };

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw new ServiceError('invalid', `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`, { limit: 'out of range' });
  return limit;
}

export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (!check(v)) throw new ServiceError('invalid', 'the cursor is not one this server gave out: start again from the first page', { cursor: 'invalid' });
  return v;
}

/** Rows fetched with limit + 1: the extra row says whether another page exists. */
export function toPage<R, T>(rows: R[], limit: number, map: (r: R) => T, keyOf: (r: R) => unknown): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return { items: items.map(map), nextCursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

/** Every item of a paged list up to `max` (the CLI's --limit), page by page. */
export async function collectPages<T>(fetch: (cursor: string | undefined, limit: number) => Promise<Page<T>>, max = Infinity): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetch(cursor, Math.max(1, Math.min(MAX_PAGE_SIZE, max - out.length)));
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && out.length < max);
  return out.slice(0, max);
}
