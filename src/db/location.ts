// Where `storage.database` points, parsed without opening anything (the bootstrap loader
// and the CLI's status use it; the drivers load only in database.ts).
import { isAbsolute, join } from 'node:path';

/** Where `storage.database` points: a SQLite file or a PostgreSQL connection URL. */
export type DatabaseLocation = { dialect: 'sqlite'; file: string } | { dialect: 'postgres'; url: string };

/**
 * `postgres://...` / `postgresql://...` is PostgreSQL; `sqlite:PATH` and a plain path are
 * a SQLite file (a relative path is taken relative to `base`, the data directory).
 */
export function parseDatabaseLocation(value: string, base?: string): DatabaseLocation {
  if (/^postgres(ql)?:\/\//i.test(value)) return { dialect: 'postgres', url: value };
  let file = value.replace(/^sqlite:(\/\/)?/i, '');
  if (!file) throw new Error(`storage.database "${value}" names no file`);
  if (base && !isAbsolute(file)) file = join(base, file);
  return { dialect: 'sqlite', file };
}

/** The location with a PostgreSQL password replaced by "***" (for logs and status). */
export function redactDatabaseLocation(value: string): string {
  return value.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

export function isPostgresLocation(value: string): boolean {
  return parseDatabaseLocation(value).dialect === 'postgres';
}

/** The bootstrap's value made absolute: a SQLite file's absolute path, a PostgreSQL URL as it is. */
export function resolveDatabaseLocation(value: string, base: string): string {
  const loc = parseDatabaseLocation(value, base);
  return loc.dialect === 'postgres' ? loc.url : loc.file;
}
