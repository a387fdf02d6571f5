// SpamAssassin's own verdicts on the shared corpus, the reference for bench/sa-compare.ts:
// a private spamd (Debian's spamassassin 4, the stock rules of /usr/share/spamassassin
// and /etc/spamassassin, no network tests, Bayes and auto-welcomelist off, no user
// preferences) on a loopback port, asked SYMBOLS for each message. The answers are
// cached in the temporary directory by SpamAssassin version and message digest, so a
// second run only compares (a full run takes minutes: spamd spends ~80 ms per message).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spamdPing, spamdScan } from '../../src/pipeline/filter/external/spamd-client.ts';
import { startDaemon } from '../../test/helpers/daemon.ts';
import { findFreePort } from '../../test/helpers/peers.ts';

export interface SaVerdict {
  score: number;
  rules: string[];
}

export function spamAssassinVersion(): string {
  const out = execFileSync('/usr/bin/spamassassin', ['--version'], { encoding: 'utf8' });
  return /version (\S+)/.exec(out)?.[1] ?? 'unknown';
}

function cachePath(version: string): string {
  return join(tmpdir(), `hermes-sa-reference-${version}.json`);
}

/** The verdicts cached so far (by message key), without running spamd. */
export function cachedSpamAssassinVerdicts(): Map<string, SaVerdict> {
  const file = cachePath(spamAssassinVersion());
  return new Map(existsSync(file) ? Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, SaVerdict>) : []);
}

/** SpamAssassin's verdict on each message (by key), from the cache or from a private spamd. */
export async function spamAssassinVerdicts(messages: { key: string; raw: Buffer }[], log: (s: string) => void = () => {}): Promise<Map<string, SaVerdict>> {
  const version = spamAssassinVersion();
  const file = cachePath(version);
  const cache: Record<string, SaVerdict> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, SaVerdict>) : {};
  const todo = messages.filter((m) => !cache[m.key]);
  if (todo.length) {
    log(`SpamAssassin ${version}: scanning ${todo.length} messages with a private spamd (cache ${file}) ...\n`);
    const port = await findFreePort();
    const address = `127.0.0.1:${port}`;
    const daemon = await startDaemon({
      name: 'spamd',
      command: '/usr/bin/setpriv',
      args: [
        '--pdeathsig', 'KILL', '--', '/usr/sbin/spamd', '-x', '--local', '--syslog=stderr',
        '--cf=use_bayes 0', '--cf=bayes_auto_learn 0', '--cf=use_auto_whitelist 0',
        '-i', '127.0.0.1', '-p', String(port), '--max-children=2', '--min-children=1', '-u', 'nobody',
      ],
      ping: () => spamdPing({ address, timeoutMs: 2000 }),
      pingName: 'PING',
      readyTimeoutMs: 120_000,
    });
    try {
      let done = 0;
      const worker = async () => {
        for (;;) {
          const m = todo.pop();
          if (!m) return;
          const v = await spamdScan({ address, timeoutMs: 120_000 }, m.raw);
          cache[m.key] = { score: v.score, rules: v.rules };
          if (++done % 200 === 0) {
            log(`  ${done}/${messages.length}\n`);
            writeFileSync(file, JSON.stringify(cache));
          }
        }
      };
      await Promise.all([worker(), worker()]);
      writeFileSync(file, JSON.stringify(cache));
    } finally {
      await daemon.stop();
    }
  }
  return new Map(messages.map((m) => [m.key, cache[m.key]!]));
}
