// Repositories and the pipeline's validators throw plain Errors whose messages already
// say what to fix ("thresholds must rise: ...", "no file rule set x"). A service turns
// those into ServiceErrors so the API answers 400 (or 404/409) with that message, not 500.
// Errors that carry a code (SQLite busy, I/O) are not the caller's fault and pass as they are.
import { ServiceError, type ServiceErrorCode } from './service-error.ts';

function classify(message: string): ServiceErrorCode {
  if (/^no\b|\bnot found\b/i.test(message)) return 'not_found';
  if (/\b(exists already|already exists|exists; use|is assigned|still uses|in use)\b/i.test(message)) return 'conflict';
  return 'invalid';
}

export function toServiceError(err: unknown, field?: string): unknown {
  if (err instanceof ServiceError || !(err instanceof Error) || (err as { code?: unknown }).code !== undefined) return err;
  const code = classify(err.message);
  return new ServiceError(code, err.message, code === 'invalid' && field ? { [field]: err.message } : undefined);
}

/** Runs a repository call, reporting its validation errors as ServiceErrors. */
export async function repo<T>(fn: () => Promise<T> | T, field?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toServiceError(err, field);
  }
}

/** Like repo() for synchronous parsers and validators. */
export function check<T>(fn: () => T, field?: string): T {
  try {
    return fn();
  } catch (err) {
    throw toServiceError(err, field);
  }
}

/** Settings of the whole gateway (policies, rule sets, templates) are not a domain administrator's to change. */
export function assertGlobal(actor: { domains: readonly string[] | null; role: string }, what: string): void {
  if (actor.domains !== null) throw new ServiceError('forbidden', `${what} apply to every domain: only an administrator of all domains may change them`);
}
