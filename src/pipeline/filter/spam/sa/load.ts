// Where SpamAssassin rules are found and loading them once: the rules of Debian's
// spamassassin package (/usr/share/spamassassin), replaced by the newest sa-update
// download when there is one (/var/lib/spamassassin/<version>/updates_spamassassin_org,
// which SpamAssassin itself prefers), then the site configuration (/etc/spamassassin:
// the .pre files loading plugins, local.cf with the admin's own rules and scores).
// A loaded set is kept until a file in its directories changes.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readSaConfig } from './config.ts';
import { compileSaRuleSet, type SaRuleSet } from './rule-set.ts';

export const DEBIAN_RULES_DIR = '/usr/share/spamassassin';
export const SA_UPDATE_DIR = '/var/lib/spamassassin';
export const SA_SITE_DIR = '/etc/spamassassin';

/** The newest sa-update rules directory, when sa-update has run. */
export function saUpdateRulesDir(base = SA_UPDATE_DIR): string | null {
  let best: { v: number; dir: string } | null = null;
  try {
    for (const e of readdirSync(base)) {
      if (!/^\d+\.\d+$/.test(e)) continue;
      const dir = join(base, e, 'updates_spamassassin_org');
      if (existsSync(dir) && (!best || Number(e) > best.v)) best = { v: Number(e), dir };
    }
  } catch {
    return null;
  }
  return best?.dir ?? null;
}

/** The default rule directories that exist on this machine (empty when SpamAssassin's rules are not installed). */
export function defaultSaRuleDirs(): string[] {
  const rules = saUpdateRulesDir() ?? (existsSync(DEBIAN_RULES_DIR) ? DEBIAN_RULES_DIR : null);
  if (!rules) return [];
  return existsSync(SA_SITE_DIR) ? [rules, SA_SITE_DIR] : [rules];
}

/** A fingerprint of the directories' files (names, sizes, times): a change means a reload. */
function fingerprint(dirs: readonly string[]): string {
  const parts: string[] = [];
  for (const d of dirs) {
    try {
      const st = statSync(d);
      if (!st.isDirectory()) {
        parts.push(`${d}:${st.size}:${st.mtimeMs}`);
        continue;
      }
      for (const f of readdirSync(d).sort()) {
        if (!/\.(?:cf|pre)$/.test(f)) continue;
        const s = statSync(join(d, f));
        parts.push(`${d}/${f}:${s.size}:${s.mtimeMs}`);
      }
    } catch {
      parts.push(`${d}:missing`);
    }
  }
  return parts.join('|');
}

const cache = new Map<string, { print: string; set: SaRuleSet; checkedAt: number }>();

/** Loads (or returns the loaded) rule set of `dirs`; files are re-checked at most every 30 s. */
export function loadSaRuleSet(dirs: readonly string[], now = Date.now()): SaRuleSet {
  const key = dirs.join('\n');
  const hit = cache.get(key);
  if (hit && now - hit.checkedAt < 30_000) return hit.set;
  const print = fingerprint(dirs);
  if (hit && hit.print === print) {
    hit.checkedAt = now;
    return hit.set;
  }
  const set = compileSaRuleSet(readSaConfig(dirs), dirs);
  cache.set(key, { print, set, checkedAt: now });
  return set;
}
