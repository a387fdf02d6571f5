// Settings held in the database: typed, with defaults, validated on write. Every write
// bumps `config_serial`, which running gateways check to pick changes up at once.
import type { Db } from '../db/database.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../delivery/retry-schedule.ts';

export interface Settings {
  'smtp.maxMessageSize': number;
  'smtp.maxRecipients': number;
  'smtp.maxClients': number;
  'smtp.idleTimeoutSec': number;
  /** Wait this long before the banner and reject clients that talk first (0 = off). */
  'smtp.greetPauseMs': number;
  'delivery.smarthost': string | null;
  'delivery.concurrencyPerDestination': number;
  /** Port used when delivering to MX hosts (25; tests point it elsewhere). */
  'delivery.mxPort': number;
  'delivery.connectTimeoutSec': number;
  'delivery.retry': RetryPolicy;
  /** Return only the headers of a bounced message in its DSN, or the full message. */
  'dsn.returnContent': 'headers' | 'full';
}

export const SETTINGS_DEFAULTS: Settings = {
  'smtp.maxMessageSize': 100 * 1024 * 1024,
  'smtp.maxRecipients': 1000,
  'smtp.maxClients': 500,
  'smtp.idleTimeoutSec': 300,
  'smtp.greetPauseMs': 0,
  'delivery.smarthost': null,
  'delivery.concurrencyPerDestination': 20,
  'delivery.mxPort': 25,
  'delivery.connectTimeoutSec': 30,
  'delivery.retry': DEFAULT_RETRY_POLICY,
  'dsn.returnContent': 'headers',
};

export type SettingKey = keyof Settings;
const SERIAL_KEY = 'config_serial';

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS_DEFAULTS, key);
}

export async function loadSettings(db: Db): Promise<Settings> {
  const rows = await db.selectFrom('settings').select(['key', 'value']).execute();
  const out: Record<string, unknown> = { ...SETTINGS_DEFAULTS };
  for (const r of rows) {
    if (!isSettingKey(r.key)) continue;
    const v = JSON.parse(r.value) as unknown;
    const def = SETTINGS_DEFAULTS[r.key];
    out[r.key] = typeof def === 'object' && def !== null && typeof v === 'object' && v !== null ? { ...def, ...v } : v;
  }
  return out as unknown as Settings;
}

export function validateSetting(key: string, value: unknown): asserts key is SettingKey {
  if (!isSettingKey(key)) {
    throw new Error(`unknown setting "${key}"; known settings: ${Object.keys(SETTINGS_DEFAULTS).join(', ')}`);
  }
  const def = SETTINGS_DEFAULTS[key];
  if (key === 'delivery.smarthost') {
    if (value !== null && (typeof value !== 'string' || !/^[^\s:]+(:\d{1,5})?$|^\[[^\]]+\](:\d{1,5})?$/.test(value))) {
      throw new Error('delivery.smarthost must be "host[:port]" or null');
    }
    return;
  }
  if (key === 'dsn.returnContent') {
    if (value !== 'headers' && value !== 'full') throw new Error('dsn.returnContent must be "headers" or "full"');
    return;
  }
  if (typeof def === 'number') {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`${key} must be a non-negative number`);
    return;
  }
  if (typeof def === 'object' && def !== null) {
    if (typeof value !== 'object' || value === null) throw new Error(`${key} must be an object like ${JSON.stringify(def)}`);
    for (const [k, v] of Object.entries(value)) {
      if (!Object.hasOwn(def, k)) throw new Error(`${key}.${k} is not a known field (known: ${Object.keys(def).join(', ')})`);
      if (typeof v !== 'number' || v < 0) throw new Error(`${key}.${k} must be a non-negative number`);
    }
  }
}

export async function setSetting(db: Db, key: string, value: unknown): Promise<void> {
  validateSetting(key, value);
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('settings')
      .values({ key, value: JSON.stringify(value) })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(value) }))
      .execute();
    await bumpConfigSerial(trx);
  });
}

export async function resetSetting(db: Db, key: string): Promise<void> {
  validateSetting(key, SETTINGS_DEFAULTS[key as SettingKey]);
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('settings').where('key', '=', key).execute();
    await bumpConfigSerial(trx);
  });
}

/** Called in the same transaction as any configuration change. */
export async function bumpConfigSerial(db: Db): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key: SERIAL_KEY, value: '1' })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: (eb) => eb.cast(eb.eb(eb.cast('settings.value', 'integer'), '+', 1), 'text') }))
    .execute();
}

export async function configSerial(db: Db): Promise<number> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', SERIAL_KEY).executeTakeFirst();
  return row ? Number(row.value) : 0;
}
