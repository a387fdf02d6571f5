// The smarthost: outbound mail (to non-relay domains) goes through this server instead
// of MX lookups. Held as the setting delivery.smarthost, under its own permission, with
// an optional login (user and password, the password sealed by the master key) used
// after STARTTLS or over implicit TLS: a password never travels in clear.
import type { Db } from '../db/database.ts';
import type { MasterKey } from '../keys/master-key.ts';
import { clearSmarthostLogin, getSmarthostLogin, setSmarthostLogin, SMARTHOST_PASSWORD_AAD, type SmarthostTls } from '../db/repos/smarthost-credentials.ts';
import { assertCan, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { getSetting, resetSetting, setSetting } from './settings-service.ts';
import { invalid } from './validation.ts';

export interface Smarthost {
  /** "host[:port]", or null: outbound mail goes to the recipients' MX hosts. */
  host: string | null;
  /** The login's user name, null without a login. The password is never shown. */
  user: string | null;
  /** How TLS starts before AUTH: STARTTLS (587/25) or implicit TLS (465); null without a login. */
  tls: SmarthostTls | null;
}

export interface SmarthostLoginInput {
  user: string;
  password: string;
  tls?: SmarthostTls;
}

export async function getSmarthost(db: Db, actor: Actor): Promise<Smarthost> {
  assertCan(actor, 'smarthost.read');
  const host = (await getSetting(db, actor, 'delivery.smarthost')).value as string | null;
  const login = await getSmarthostLogin(db);
  return { host, user: login?.username ?? null, tls: login?.tls ?? null };
}

/**
 * Sets the smarthost. With `login`, stores (replaces) its credentials; `login: null`
 * removes them; undefined leaves them as they are.
 */
export async function setSmarthost(db: Db, actor: Actor, host: string, login?: SmarthostLoginInput | null, masterKey?: () => MasterKey): Promise<Smarthost> {
  assertCan(actor, 'smarthost.write');
  if (typeof host !== 'string' || !host.trim()) throw invalid('host', 'host must be "host[:port]", e.g. "relay.example.net:587"');
  if (login) {
    if (typeof login.user !== 'string' || !login.user.trim() || /[\r\n\0]/.test(login.user)) throw invalid('user', 'user must be a non-empty user name');
    if (typeof login.password !== 'string' || !login.password || /[\r\n\0]/.test(login.password)) throw invalid('password', 'password must be non-empty, on one line');
    if (login.tls !== undefined && login.tls !== 'starttls' && login.tls !== 'implicit') throw invalid('tls', 'tls must be "starttls" or "implicit"');
    if (!masterKey) throw new Error('the master key is needed to store the smarthost password');
  }
  try {
    await setSetting(db, actor, 'delivery.smarthost', host.trim());
  } catch (err) {
    if ((err as { details?: unknown }).details) throw invalid('host', (err as Error).message);
    throw err;
  }
  if (login) {
    const tls = login.tls ?? 'starttls';
    await setSmarthostLogin(db, { username: login.user.trim(), passwordSealed: masterKey!().encryptString(login.password, SMARTHOST_PASSWORD_AAD), tls });
    await recordChange(db, actor, { action: 'smarthost.login', targetType: 'smarthost', targetId: host.trim(), after: { user: login.user.trim(), tls, password: '(set)' } });
  } else if (login === null) {
    await clearSmarthostLogin(db);
    await recordChange(db, actor, { action: 'smarthost.login-clear', targetType: 'smarthost', targetId: host.trim() });
  }
  return getSmarthost(db, actor);
}

export async function clearSmarthost(db: Db, actor: Actor): Promise<Smarthost> {
  assertCan(actor, 'smarthost.write');
  await resetSetting(db, actor, 'delivery.smarthost');
  if (await clearSmarthostLogin(db)) await recordChange(db, actor, { action: 'smarthost.login-clear', targetType: 'smarthost', targetId: '' });
  return { host: null, user: null, tls: null };
}
