// The smarthost: outbound mail (to non-relay domains) goes through this server instead
// of MX lookups. Held as the setting delivery.smarthost, under its own permission.
import type { Db } from '../db/database.ts';
import { assertCan, type Actor } from './actor.ts';
import { getSetting, resetSetting, setSetting } from './settings-service.ts';
import { invalid } from './validation.ts';

export interface Smarthost {
  /** "host[:port]", or null: outbound mail goes to the recipients' MX hosts. */
  host: string | null;
}

export async function getSmarthost(db: Db, actor: Actor): Promise<Smarthost> {
  assertCan(actor, 'smarthost.read');
  return { host: (await getSetting(db, actor, 'delivery.smarthost')).value as string | null };
}

export async function setSmarthost(db: Db, actor: Actor, host: string): Promise<Smarthost> {
  assertCan(actor, 'smarthost.write');
  if (typeof host !== 'string' || !host.trim()) throw invalid('host', 'host must be "host[:port]", e.g. "relay.example.net:587"');
  try {
    await setSetting(db, actor, 'delivery.smarthost', host.trim());
  } catch (err) {
    if ((err as { details?: unknown }).details) throw invalid('host', (err as Error).message);
    throw err;
  }
  return { host: host.trim() };
}

export async function clearSmarthost(db: Db, actor: Actor): Promise<Smarthost> {
  assertCan(actor, 'smarthost.write');
  await resetSetting(db, actor, 'delivery.smarthost');
  return { host: null };
}
