// What route modules get to work with: the database, the bootstrap, the logger, the
// master key and the live settings; in a running gateway also its parts (quarantine
// store, scheduler, ...), absent when the server runs on its own (some unit tests).
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/bootstrap.ts';
import type { Settings } from '../config/settings.ts';
import type { Db } from '../db/database.ts';
import type { Gateway } from '../gateway.ts';
import type { MasterKey } from '../keys/master-key.ts';

export interface HttpContext {
  db: Db;
  config: LoadedConfig;
  log: Logger;
  /** Loaded on first use (the key file is read once). */
  masterKey(): MasterKey;
  /** The current settings (the gateway's cached copy, refreshed on every config change). */
  settings(): Promise<Settings>;
  gateway: Gateway | null;
  /** For /readyz: is the SMTP listener accepting connections? */
  smtpListening(): boolean;
}
