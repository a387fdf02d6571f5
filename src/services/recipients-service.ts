// Relay recipients: the valid addresses (or *@domain) on domains whose recipient mode
// is "specified". Domain administrators manage those of their own domains.
import type { Db } from '../db/database.ts';
import { addRelayRecipient, getRelayRecipient, normaliseRecipientPattern, pageRelayRecipients, removeRelayRecipient } from '../db/repos/relay-policy.ts';
import { assertCan, assertDomain, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { decodeCursor, pageSize, toPage, type Page } from './page.ts';
import { ServiceError } from './service-error.ts';
import { checked, iso } from './validation.ts';
import { checkDomainName } from './domains-service.ts';

export interface RelayRecipient {
  pattern: string;
  domain: string;
  createdAt: string | null;
}

const toRecipient = (r: { pattern: string; domain: string; created_at: number }): RelayRecipient => ({ pattern: r.pattern, domain: r.domain, createdAt: iso(r.created_at) });

function checkPattern(pattern: string) {
  return checked('pattern', () => normaliseRecipientPattern(String(pattern ?? '')));
}

export async function listRecipients(db: Db, actor: Actor, q: { domain?: string; cursor?: string; limit?: number } = {}): Promise<Page<RelayRecipient>> {
  assertCan(actor, 'recipients.read');
  const limit = pageSize(q.limit);
  const domain = q.domain ? checkDomainName(q.domain) : undefined;
  if (domain) assertDomain(actor, domain);
  const after = decodeCursor(q.cursor, (v): v is [string, string] => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'string'));
  const rows = await pageRelayRecipients(db, { ...(after ? { after } : {}), ...(domain ? { domain } : {}), ...(actor.domains ? { scope: actor.domains } : {}), limit: limit + 1 });
  return toPage(rows, limit, toRecipient, (r) => [r.domain, r.pattern]);
}

export async function addRecipient(db: Db, actor: Actor, pattern: string): Promise<RelayRecipient> {
  assertCan(actor, 'recipients.write');
  const r = checkPattern(pattern);
  assertDomain(actor, r.domain);
  return db.transaction().execute(async (trx) => {
    const before = await getRelayRecipient(trx, r.pattern);
    await addRelayRecipient(trx, r.pattern);
    const after = toRecipient((await getRelayRecipient(trx, r.pattern))!);
    if (!before) await recordChange(trx, actor, { action: 'recipient.add', targetType: 'recipient', targetId: r.pattern, domain: r.domain, after });
    return after;
  });
}

export async function removeRecipient(db: Db, actor: Actor, pattern: string): Promise<void> {
  assertCan(actor, 'recipients.write');
  const r = checkPattern(pattern);
  assertDomain(actor, r.domain);
  await db.transaction().execute(async (trx) => {
    const before = await getRelayRecipient(trx, r.pattern);
    if (!before || !(await removeRelayRecipient(trx, r.pattern))) throw new ServiceError('not_found', `no relay recipient ${pattern}`);
    await recordChange(trx, actor, { action: 'recipient.remove', targetType: 'recipient', targetId: r.pattern, domain: r.domain, before: toRecipient(before) });
  });
}
