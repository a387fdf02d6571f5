// Blocklist lookups: every (target, zone) question of a message asked at once through
// the gateway's resolver (so answers are cached and shared with other sessions), all
// under one time budget. What has not answered by then is reported as timed out and
// left out; nothing waits longer than the budget.
import { isIP } from 'node:net';
import { reverseName } from '../../../dns/resolver.ts';
import { answerMatches, isErrorAnswer, type DnsListZone } from './zones.ts';

/** An A lookup: DnsResolver.a (rejects with node:dns error codes). */
export type ALookup = (name: string) => Promise<string[]>;

export interface ListHit {
  entry: DnsListZone;
  /** The IP address or domain looked up. */
  target: string;
  /** The answer that matched, e.g. "127.0.0.4". */
  answer: string;
}

export interface ListProblem {
  zone: string;
  target: string;
  /** 'timeout' (budget spent), 'refused' (127.255.255.x), or the DNS error code. */
  kind: string;
  detail?: string;
}

export interface ListReport {
  hits: ListHit[];
  problems: ListProblem[];
  /** Questions asked (target × distinct zone). */
  queries: number;
}

/** The label sequence to put in front of a zone for an IP: 4.3.2.1 for 1.2.3.4, nibbles for IPv6. */
export function ipQueryPrefix(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return reverseName(mapped ? mapped[1]! : ip).replace(/\.(in-addr|ip6)\.arpa$/, '');
}

/** What does not exist is not listed; everything else that fails is a problem to report. */
const NOT_LISTED = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * Looks up every target in every zone (entries sharing a zone share one question).
 * `prefix` turns a target into its query labels (ipQueryPrefix for addresses, the
 * domain itself for URI lists).
 */
export async function lookupLists(
  targets: readonly string[],
  zones: readonly DnsListZone[],
  prefix: (target: string) => string,
  resolve: ALookup,
  budgetMs: number,
): Promise<ListReport> {
  const byZone = new Map<string, DnsListZone[]>();
  for (const z of zones) {
    const name = z.zone.toLowerCase().replace(/\.$/, '');
    byZone.set(name, [...(byZone.get(name) ?? []), z]);
  }
  const report: ListReport = { hits: [], problems: [], queries: 0 };
  const pending = new Set<string>();
  const jobs: Promise<void>[] = [];
  for (const target of targets) {
    for (const [zone, entries] of byZone) {
      const key = `${target} ${zone}`;
      pending.add(key);
      report.queries++;
      jobs.push(
        resolve(`${prefix(target)}.${zone}`).then(
          (answers) => {
            if (!pending.delete(key)) return; // answered after the budget: ignored
            const refused = answers.find(isErrorAnswer);
            if (refused) report.problems.push({ zone, target, kind: 'refused', detail: refused });
            for (const entry of entries) {
              const answer = answers.find((a) => answerMatches(entry, a));
              if (answer) report.hits.push({ entry, target, answer });
            }
          },
          (err: { code?: string; message?: string }) => {
            if (!pending.delete(key)) return;
            if (NOT_LISTED.has(err.code ?? '')) return;
            report.problems.push({ zone, target, kind: err.code === 'ETIMEOUT' ? 'timeout' : (err.code ?? 'error'), detail: err.message ?? String(err) });
          },
        ),
      );
    }
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(jobs), new Promise<void>((r) => (timer = setTimeout(r, budgetMs)))]);
  clearTimeout(timer);
  for (const key of pending) {
    const [target, zone] = key.split(' ') as [string, string];
    report.problems.push({ zone, target, kind: 'timeout', detail: `no answer within ${budgetMs} ms` });
  }
  pending.clear();
  return report;
}

/** True for an address a blocklist can be asked about. */
export function isLookupableIp(ip: string | undefined | null): ip is string {
  return !!ip && isIP(ip.replace(/%.*$/, '')) !== 0;
}
