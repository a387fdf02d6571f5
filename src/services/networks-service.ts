// Relay networks: client addresses allowed to send to any destination (your own
// servers). Never domain-scoped: a network can send as any domain.
import type { Db } from '../db/database.ts';
import { addRelayNetwork, getRelayNetwork, pageRelayNetworks, removeRelayNetwork } from '../db/repos/relay-policy.ts';
import { parseCidr } from '../smtp/cidr.ts';
import { assertCan, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { decodeCursor, pageSize, toPage, type Page } from './page.ts';
import { ServiceError } from './service-error.ts';
import { checked, iso } from './validation.ts';

export interface RelayNetwork {
  cidr: string;
  description: string | null;
  createdAt: string | null;
}

const toNetwork = (r: { cidr: string; description: string | null; created_at: number }): RelayNetwork => ({ cidr: r.cidr, description: r.description, createdAt: iso(r.created_at) });

const checkCidr = (cidr: string) => checked('cidr', () => parseCidr(String(cidr ?? '')).canonical);

export async function listNetworks(db: Db, actor: Actor, q: { cursor?: string; limit?: number } = {}): Promise<Page<RelayNetwork>> {
  assertCan(actor, 'networks.read');
  const limit = pageSize(q.limit);
  const after = decodeCursor(q.cursor, (v): v is string => typeof v === 'string');
  const rows = await pageRelayNetworks(db, { ...(after !== undefined ? { after } : {}), limit: limit + 1 });
  return toPage(rows, limit, toNetwork, (r) => r.cidr);
}

/** Adds a network, or changes its description. */
export async function addNetwork(db: Db, actor: Actor, input: { cidr: string; description?: string | null }): Promise<RelayNetwork> {
  assertCan(actor, 'networks.write');
  const cidr = checkCidr(input.cidr);
  return db.transaction().execute(async (trx) => {
    const before = await getRelayNetwork(trx, cidr);
    await addRelayNetwork(trx, cidr, input.description ?? undefined);
    const after = toNetwork((await getRelayNetwork(trx, cidr))!);
    await recordChange(trx, actor, { action: before ? 'network.update' : 'network.add', targetType: 'network', targetId: cidr, before: before ? toNetwork(before) : undefined, after });
    return after;
  });
}

export async function removeNetwork(db: Db, actor: Actor, cidr: string): Promise<void> {
  assertCan(actor, 'networks.write');
  const c = checkCidr(cidr);
  await db.transaction().execute(async (trx) => {
    const before = await getRelayNetwork(trx, c);
    if (!before || !(await removeRelayNetwork(trx, c))) throw new ServiceError('not_found', `no relay network ${cidr}`);
    await recordChange(trx, actor, { action: 'network.remove', targetType: 'network', targetId: c, before: toNetwork(before) });
  });
}
