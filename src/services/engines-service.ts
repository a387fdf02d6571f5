// Are the scanning engines answering: clamd (malware) and the optional external spam
// engines (spamd, Rspamd). For the status page, the dashboard's health and the CLI.
// An engine that is down is a state to report, not an error of the request.
import { loadSettings } from '../config/settings.ts';
import type { Db } from '../db/database.ts';
import { parseRspamdUrl, parseSpamdAddress, rspamdPing, spamdPing } from '../pipeline/filter/external/index.ts';
import { clamdPing, clamdVersion, parseClamdAddress } from '../pipeline/filter/malware/clamd.ts';
import { assertCan, type Actor } from './actor.ts';
import { check } from './repo-errors.ts';

export interface EngineStatus {
  engine: 'clamd' | 'spamd' | 'rspamd';
  /** false: not configured (its setting is null). */
  configured: boolean;
  address: string | null;
  answering: boolean;
  /** What it said: clamd's version, spamd's or Rspamd's ping answer. */
  version?: string;
  error?: string;
  /** What mail gets while it is down: "tempfail" (451) or "accept"/"ignore". */
  onError: string;
  timeoutMs: number;
  /** For the external engines: how much their score counts. */
  weight?: number;
}

async function probe(base: Omit<EngineStatus, 'answering'>, ping: () => Promise<string>): Promise<EngineStatus> {
  if (!base.configured) return { ...base, answering: false };
  try {
    return { ...base, answering: true, version: await ping() };
  } catch (err) {
    return { ...base, answering: false, error: (err as Error).message };
  }
}

/** clamd's state; `clamd` checks another address than the configured one. */
export async function malwareStatus(db: Db, actor: Actor, o: { clamd?: string } = {}): Promise<EngineStatus> {
  assertCan(actor, 'malware.read');
  const s = await loadSettings(db);
  const address = o.clamd ?? s['malware.clamd'];
  if (address) check(() => parseClamdAddress(address), 'clamd');
  const opts = { address: address ?? '', timeoutMs: Math.min(s['malware.timeoutMs'], 10_000) };
  return probe({ engine: 'clamd', configured: !!address, address: address ?? null, onError: s['malware.onError'], timeoutMs: opts.timeoutMs }, async () => {
    await clamdPing(opts);
    return clamdVersion(opts);
  });
}

/** spamd's and Rspamd's state; `spamd` / `rspamd` check other addresses than the configured ones. */
export async function externalStatus(db: Db, actor: Actor, o: { spamd?: string; rspamd?: string } = {}): Promise<EngineStatus[]> {
  assertCan(actor, 'malware.read');
  const s = await loadSettings(db);
  if (o.spamd !== undefined) check(() => parseSpamdAddress(o.spamd!), 'spamd');
  if (o.rspamd !== undefined) check(() => parseRspamdUrl(o.rspamd!), 'rspamd');
  const spamd = o.spamd ?? s['external.spamd'];
  const rspamd = o.rspamd ?? s['external.rspamd'];
  const spamdTimeout = Math.min(s['external.spamdTimeoutMs'], 10_000);
  const rspamdTimeout = Math.min(s['external.rspamdTimeoutMs'], 10_000);
  return Promise.all([
    probe(
      { engine: 'spamd', configured: !!spamd, address: spamd ?? null, onError: s['external.spamdOnError'], timeoutMs: s['external.spamdTimeoutMs'], weight: s['external.spamdWeight'] },
      () => spamdPing({ address: spamd!, timeoutMs: spamdTimeout }),
    ),
    probe(
      { engine: 'rspamd', configured: !!rspamd, address: rspamd ?? null, onError: s['external.rspamdOnError'], timeoutMs: s['external.rspamdTimeoutMs'], weight: s['external.rspamdWeight'] },
      () => rspamdPing({ url: rspamd!, timeoutMs: rspamdTimeout }),
    ),
  ]);
}
