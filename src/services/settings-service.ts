// Gateway settings held in the database: typed, with defaults, validated on write
// (config/settings.ts holds the list and the validators).
import type { Db } from '../db/database.ts';
import { isSettingKey, loadSettings, resetSetting as resetSettingRow, setSetting as setSettingRow, SETTINGS_DEFAULTS, validateSetting, type SettingKey } from '../config/settings.ts';
import { assertCan, type Actor, type Permission } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { ServiceError } from './service-error.ts';
import { invalid } from './validation.ts';

export interface SettingValue {
  key: string;
  value: unknown;
  default: unknown;
  isDefault: boolean;
}

function checkKey(key: string): SettingKey {
  if (!isSettingKey(key)) throw new ServiceError('not_found', `unknown setting "${key}"; known settings: ${Object.keys(SETTINGS_DEFAULTS).join(', ')}`, { key: 'unknown setting' });
  return key;
}

/** The smarthost has its own resource (and permission); every other key is a setting. */
function permissionFor(key: string, op: 'read' | 'write'): Permission {
  return key === 'delivery.smarthost' ? `smarthost.${op}` : `settings.${op}`;
}

export async function listSettings(db: Db, actor: Actor): Promise<SettingValue[]> {
  assertCan(actor, 'settings.read');
  const s = await loadSettings(db);
  return (Object.keys(SETTINGS_DEFAULTS) as SettingKey[]).map((key) => ({ key, value: s[key], default: SETTINGS_DEFAULTS[key], isDefault: JSON.stringify(s[key]) === JSON.stringify(SETTINGS_DEFAULTS[key]) }));
}

export async function getSetting(db: Db, actor: Actor, key: string): Promise<SettingValue> {
  assertCan(actor, permissionFor(key, 'read'));
  const k = checkKey(key);
  const value = (await loadSettings(db))[k];
  return { key: k, value, default: SETTINGS_DEFAULTS[k], isDefault: JSON.stringify(value) === JSON.stringify(SETTINGS_DEFAULTS[k]) };
}

export async function setSetting(db: Db, actor: Actor, key: string, value: unknown): Promise<SettingValue> {
  assertCan(actor, permissionFor(key, 'write'));
  const k = checkKey(key);
  try {
    validateSetting(k, value);
  } catch (err) {
    throw invalid('value', (err as Error).message);
  }
  await db.transaction().execute(async (trx) => {
    const before = (await loadSettings(trx))[k];
    await setSettingRow(trx, k, value);
    await recordChange(trx, actor, { action: 'setting.set', targetType: 'setting', targetId: k, before: { value: before }, after: { value } });
  });
  return getSetting(db, actor, k);
}

export async function resetSetting(db: Db, actor: Actor, key: string): Promise<SettingValue> {
  assertCan(actor, permissionFor(key, 'write'));
  const k = checkKey(key);
  await db.transaction().execute(async (trx) => {
    const before = (await loadSettings(trx))[k];
    await resetSettingRow(trx, k);
    await recordChange(trx, actor, { action: 'setting.reset', targetType: 'setting', targetId: k, before: { value: before }, after: { value: SETTINGS_DEFAULTS[k] } });
  });
  return getSetting(db, actor, k);
}
