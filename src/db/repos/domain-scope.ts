// Domain scope in SQL: a domain administrator sees rows about its domains and their
// subdomains only, filtered in the query (never after it), so a page is always full.
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Database } from '../schema.ts';

/** `column` is one of `domains` or a subdomain of one; an empty list matches nothing. */
export function inDomains<TB extends keyof Database>(eb: ExpressionBuilder<Database, TB>, column: string, domains: readonly string[]): Expression<SqlBool> {
  const ref = sql.ref<string>(column);
  if (!domains.length) return sql<SqlBool>`1 = 0`;
  return eb.or([eb(ref, 'in', [...domains]), ...domains.map((d) => eb(ref, 'like', `%.${d}`))]);
}
