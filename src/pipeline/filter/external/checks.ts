// The external engines as spam checks the built-in engine runs with its own (see
// spam-stage.ts's extraChecks). Both are always registered and read their settings per
// message, so configuring or removing an engine needs no restart; with the address
// setting null (the default) a check does nothing. A failure is either a zero-score
// *_UNAVAILABLE symbol (onError 'ignore', the default: a dead engine does not stop mail)
// or a thrown error (onError 'tempfail'), which the engine records among the spam
// result's errors and externalTempfailStage turns into a 451.
import type { Settings } from '../../../config/settings.ts';
import type { SpamCheck, SpamInput, SpamSymbol } from '../spam/types.ts';
import { spamdScan } from './spamd-client.ts';
import { rspamdScan } from './rspamd-client.ts';
import { withTraceHeaders } from './envelope.ts';
import { rspamdResultSymbols, spamdResultSymbols, unavailable } from './symbols.ts';

export type ExternalSettings = Pick<
  Settings,
  | 'external.spamd'
  | 'external.spamdWeight'
  | 'external.spamdTimeoutMs'
  | 'external.spamdOnError'
  | 'external.rspamd'
  | 'external.rspamdWeight'
  | 'external.rspamdTimeoutMs'
  | 'external.rspamdOnError'
  | 'external.maxScanBytes'
>;

export interface ExternalCheckOptions {
  settings: () => ExternalSettings;
  /** Our host name, for the Received line spamd sees. */
  hostname?: string;
}

/** Names of the external checks, as they appear in SpamResult.errors. */
export const EXTERNAL_CHECK_NAMES: readonly string[] = ['spamd', 'rspamd'];

function tooLarge(prefix: 'SPAMD' | 'RSPAMD', input: SpamInput, max: number): SpamSymbol[] | null {
  if (input.raw.length <= max) return null;
  return [{ name: `${prefix}_SKIPPED`, score: 0, description: `message of ${input.raw.length} bytes is larger than external.maxScanBytes (${max})` }];
}

function failure(prefix: 'SPAMD' | 'RSPAMD', onError: 'ignore' | 'tempfail', err: unknown): SpamSymbol[] {
  const why = err instanceof Error ? err.message : String(err);
  if (onError === 'tempfail') throw new Error(why);
  return [unavailable(prefix, why)];
}

export function spamdCheck(o: ExternalCheckOptions): SpamCheck {
  return {
    name: 'spamd',
    async run(input) {
      const s = o.settings();
      const address = s['external.spamd'];
      if (!address) return [];
      const skip = tooLarge('SPAMD', input, s['external.maxScanBytes']);
      if (skip) return skip;
      try {
        const v = await spamdScan({ address, timeoutMs: s['external.spamdTimeoutMs'] }, withTraceHeaders(input, o.hostname ?? 'localhost'));
        return spamdResultSymbols(v, s['external.spamdWeight']);
      } catch (err) {
        return failure('SPAMD', s['external.spamdOnError'], err);
      }
    },
  };
}

export function rspamdCheck(o: ExternalCheckOptions): SpamCheck {
  return {
    name: 'rspamd',
    async run(input) {
      const s = o.settings();
      const url = s['external.rspamd'];
      if (!url) return [];
      const skip = tooLarge('RSPAMD', input, s['external.maxScanBytes']);
      if (skip) return skip;
      const e = input.envelope;
      try {
        const v = await rspamdScan({ url, timeoutMs: s['external.rspamdTimeoutMs'] }, input.raw, {
          ...(e?.clientIp ? { ip: e.clientIp } : {}),
          ...(e?.helo ? { helo: e.helo } : {}),
          ...(e?.mailFrom ? { mailFrom: e.mailFrom } : {}),
          ...(e?.rcptTo.length ? { rcptTo: e.rcptTo } : {}),
        });
        return rspamdResultSymbols(v, s['external.rspamdWeight']);
      } catch (err) {
        return failure('RSPAMD', s['external.rspamdOnError'], err);
      }
    },
  };
}

type Outcome = { symbols: SpamSymbol[] } | { error: unknown };

/**
 * Both external engines, for the spam stage's extraChecks. The engine runs its checks one
 * after the other; so that a message waits for the slower engine rather than for both in
 * turn, the first of these checks to run starts both scans and each then awaits its own.
 */
export function externalChecks(o: ExternalCheckOptions): SpamCheck[] {
  const checks = [spamdCheck(o), rspamdCheck(o)];
  const running = new WeakMap<SpamInput, Map<string, Promise<Outcome>>>();
  const start = (input: SpamInput, ctx: Parameters<SpamCheck['run']>[1]) => {
    let scans = running.get(input);
    if (!scans) {
      scans = new Map(
        checks.map((c) => [
          c.name,
          Promise.resolve()
            .then(() => c.run(input, ctx))
            .then((symbols): Outcome => ({ symbols }), (error: unknown): Outcome => ({ error })),
        ]),
      );
      running.set(input, scans);
    }
    return scans;
  };
  return checks.map((c) => ({
    name: c.name,
    async run(input, ctx) {
      const scans = start(input, ctx);
      const r = await scans.get(c.name)!;
      // Each scan is taken once: scanning the same input again asks the engines again.
      scans.delete(c.name);
      if (!scans.size) running.delete(input);
      if ('error' in r) throw r.error;
      return r.symbols;
    },
  }));
}
