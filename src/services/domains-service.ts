// Relay domains: the domains this gateway accepts mail for, and where their mail goes.
// A domain administrator may see and change its own domains; adding or removing a
// domain is for administrators.
import type { Db } from '../db/database.ts';
import { getRelayDomain, normaliseDomain, pageRelayDomains, removeRelayDomain, upsertRelayDomain } from '../db/repos/relay-policy.ts';
import type { RecipientMode, RelayDomainRow } from '../db/schema.ts';
import { parseNextHop } from '../delivery/route.ts';
import { assertCan, assertDomain, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { decodeCursor, pageSize, toPage, type Page } from './page.ts';
import { ServiceError } from './service-error.ts';
import { checked, invalid, iso } from './validation.ts';

export interface RelayDomain {
  domain: string;
  /** "host[:port]", or null: the domain's MX records. */
  nextHop: string | null;
  requireTls: boolean;
  /** "any": every address; "specified": only the relay recipients listed. */
  recipientMode: RecipientMode;
  createdAt: string | null;
}

export interface RelayDomainInput {
  domain: string;
  nextHop?: string | null;
  requireTls?: boolean;
  recipientMode?: RecipientMode;
}

export function toRelayDomain(r: RelayDomainRow): RelayDomain {
  return { domain: r.domain, nextHop: r.next_hop, requireTls: r.require_tls === 1, recipientMode: r.recipient_mode, createdAt: iso(r.created_at) };
}

export function checkDomainName(domain: string, field = 'domain'): string {
  return checked(field, () => normaliseDomain(String(domain ?? '')));
}

export async function listDomains(db: Db, actor: Actor, q: { cursor?: string; limit?: number } = {}): Promise<Page<RelayDomain>> {
  assertCan(actor, 'domains.read');
  const limit = pageSize(q.limit);
  const after = decodeCursor(q.cursor, (v): v is string => typeof v === 'string');
  const rows = await pageRelayDomains(db, { ...(after !== undefined ? { after } : {}), ...(actor.domains ? { scope: actor.domains } : {}), limit: limit + 1 });
  return toPage(rows, limit, toRelayDomain, (r) => r.domain);
}

export async function getDomain(db: Db, actor: Actor, domain: string): Promise<RelayDomain> {
  assertCan(actor, 'domains.read');
  const d = checkDomainName(domain);
  assertDomain(actor, d);
  const row = await getRelayDomain(db, d);
  if (!row) throw new ServiceError('not_found', `${d} is not a relay domain; add it first`);
  return toRelayDomain(row);
}

/**
 * Adds or changes a relay domain. mode 'create' refuses an existing domain, 'update'
 * a missing one (fields left out keep their value); 'upsert' (the CLI's "domain add")
 * sets every field.
 */
export async function saveDomain(db: Db, actor: Actor, input: RelayDomainInput, mode: 'create' | 'update' | 'upsert'): Promise<RelayDomain> {
  assertCan(actor, 'domains.write');
  const domain = checkDomainName(input.domain);
  assertDomain(actor, domain);
  if (input.nextHop) checked('nextHop', () => parseNextHop(input.nextHop!));
  if (input.recipientMode !== undefined && input.recipientMode !== 'any' && input.recipientMode !== 'specified') throw invalid('recipientMode', 'recipient mode must be "any" or "specified"');
  return db.transaction().execute(async (trx) => {
    const before = await getRelayDomain(trx, domain);
    if (mode === 'create' && before) throw new ServiceError('conflict', `${domain} is a relay domain already; change it with PATCH /domains/${domain}`);
    if (mode === 'update' && !before) throw new ServiceError('not_found', `${domain} is not a relay domain; add it first`);
    if (!before && actor.domains !== null) throw new ServiceError('forbidden', 'only an administrator may add a relay domain');
    const merged = {
      domain,
      nextHop: input.nextHop !== undefined ? input.nextHop || null : mode === 'update' ? before!.next_hop : null,
      requireTls: input.requireTls !== undefined ? input.requireTls : mode === 'update' ? before!.require_tls === 1 : false,
      recipientMode: input.recipientMode ?? (mode === 'update' ? before!.recipient_mode : 'any'),
    };
    await upsertRelayDomain(trx, merged);
    const after = toRelayDomain((await getRelayDomain(trx, domain))!);
    await recordChange(trx, actor, { action: before ? 'domain.update' : 'domain.add', targetType: 'domain', targetId: domain, domain, before: before ? toRelayDomain(before) : undefined, after });
    return after;
  });
}

export async function removeDomain(db: Db, actor: Actor, domain: string): Promise<void> {
  assertCan(actor, 'domains.write');
  const d = checkDomainName(domain);
  assertDomain(actor, d);
  if (actor.domains !== null) throw new ServiceError('forbidden', 'only an administrator may remove a relay domain');
  await db.transaction().execute(async (trx) => {
    const before = await getRelayDomain(trx, d);
    if (!before || !(await removeRelayDomain(trx, d))) throw new ServiceError('not_found', `no relay domain ${domain}`);
    await recordChange(trx, actor, { action: 'domain.remove', targetType: 'domain', targetId: d, domain: d, before: toRelayDomain(before) });
  });
}
