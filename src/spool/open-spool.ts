// The spool a configuration asks for: files below storage.spool, or the database.
import type { LoadedConfig } from '../config/bootstrap.ts';
import { messagesInDatabase } from '../config/bootstrap.ts';
import type { Db } from '../db/database.ts';
import { DbSpool } from './db-spool.ts';
import { Spool } from './spool-file.ts';

export function openSpool(config: Pick<LoadedConfig, 'storage'>, db: Db, node: number): Spool {
  return messagesInDatabase(config) ? new DbSpool(db, node) : new Spool(config.storage.spool, node);
}
