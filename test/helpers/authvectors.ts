// Helpers for the sender-authentication conformance suites and the dkimpy cross-checks:
// where the shared vectors live, reading their YAML, answering DNS from the vectors'
// own records (no network), and running Python's dkim module.
//
// YAML: node_modules has no YAML reader (neither `yaml` nor `js-yaml`), and the suites
// use the full YAML syntax (folded/literal blocks, "\x.." escapes, flow lists), so a
// hand-written subset reader would be the fragile choice. PyYAML (`import yaml`) is
// installed with Python, and it is what pyspf and the ARC suite's own harness use to
// read these very files; we convert each file to JSON with it once per test run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** ../shared next to the repository, or $HERMES_SHARED_DIR. */
export function sharedDir(): string {
  return process.env.HERMES_SHARED_DIR ? path.resolve(process.env.HERMES_SHARED_DIR) : path.resolve(repoRoot, '..', 'shared');
}

export function authvectorsDir(...parts: string[]): string {
  return path.join(sharedDir(), 'authvectors', ...parts);
}

/** A skip message when a vector file or folder is missing, else null. */
export function vectorsAbsent(...parts: string[]): string | null {
  const p = authvectorsDir(...parts);
  return existsSync(p)
    ? null
    : `shared test data is absent: ${p} not found (set HERMES_SHARED_DIR to the folder holding authvectors/)`;
}

// ---------------------------------------------------------------------------
// Python

const pythonCache = new Map<string, string | null>();

/**
 * A Python 3 that can import all the given modules: $HERMES_PYTHON, then the system
 * /usr/bin/python3 (Debian's python3-dkim lives there), then python3 on PATH.
 */
export function findPython(modules: string[]): string | null {
  const key = modules.join(',');
  if (pythonCache.has(key)) return pythonCache.get(key)!;
  const candidates = [process.env.HERMES_PYTHON, '/usr/bin/python3', 'python3'].filter((x): x is string => !!x);
  let found: string | null = null;
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', modules.map(m => `import ${m}`).join('; ') || 'pass'], { encoding: 'utf8' });
    if (r.status === 0) {
      found = py;
      break;
    }
  }
  pythonCache.set(key, found);
  return found;
}

/** Runs a Python script with JSON on stdin and returns its stdout parsed as JSON. */
export function runPythonJson<T = unknown>(python: string, script: string, input: unknown): T {
  const r = spawnSync(python, ['-c', script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** All YAML documents of a file, via PyYAML's safe_load_all. */
export function loadYamlDocs<T = unknown>(file: string): T[] {
  const py = findPython(['yaml']);
  if (!py) throw new Error('PyYAML is needed to read the YAML vectors (apt install python3-yaml)');
  const script = [
    'import sys, json, yaml',
    'docs = [d for d in yaml.safe_load_all(open(sys.argv[1], "rb")) if d is not None]',
    'json.dump(docs, sys.stdout)',
  ].join('\n');
  const r = spawnSync(py, ['-c', script, file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`reading ${file} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T[];
}

// ---------------------------------------------------------------------------
// DNS from test data

export type TestResolver = (name: string, rrtype: string) => Promise<unknown>;

export function dnsError(code: string, name: string, rrtype: string): Error & { code: string; hostname: string } {
  const e = new Error(`query${rrtype === 'TXT' ? 'Txt' : rrtype} ${code} ${name}`) as Error & { code: string; hostname: string };
  e.code = code;
  e.hostname = name;
  return e;
}

function normName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * TXT-only resolver from a map of owner name → record. A string value is one record of
 * one character-string; string[] is one record made of several strings; string[][]
 * is several records. Names listed in `timeouts` throw ETIMEOUT; others ENOTFOUND.
 */
export function txtResolver(
  records: Record<string, string | string[] | string[][]>,
  opts: { timeouts?: string[]; log?: string[] } = {},
): TestResolver {
  const map = new Map<string, string[][]>();
  for (const [k, v] of Object.entries(records)) {
    const recs = typeof v === 'string' ? [[v]] : v.length && Array.isArray(v[0]) ? (v as string[][]) : [v as string[]];
    map.set(normName(k), recs);
  }
  const timeouts = new Set((opts.timeouts ?? []).map(normName));
  return async (name: string, rrtype: string) => {
    const n = normName(name);
    opts.log?.push(`${rrtype} ${n}`);
    if (timeouts.has(n)) throw dnsError('ETIMEOUT', name, rrtype);
    const recs = map.get(n);
    if (!recs) throw dnsError('ENOTFOUND', name, rrtype);
    if (rrtype !== 'TXT') throw dnsError('ENODATA', name, rrtype);
    return recs.map(r => [...r]);
  };
}

/** The openspf YAML zone format: { name: [ {TYPE: value} | 'TIMEOUT', ... ] }. */
export type SpfZoneData = Record<string, Array<Record<string, unknown> | string>>;

/**
 * Resolver with the semantics of pyspf's test driver (test/testspf.py), in the
 * shapes dns.promises.resolve() returns:
 * - SPF-type records are also served as TXT unless the name has a TXT entry
 *   (including "TXT: NONE", which means no TXT record);
 * - a 'TIMEOUT' marker times out every query whose type had no record before it;
 *   a record value 'TIMEOUT' times out queries of its type;
 * - unknown names are NXDOMAIN (names under "error." time out); known names without
 *   the type are NODATA; a label over 63 octets is a bad name, as real resolvers say;
 * - CNAMEs are followed for other types, as a recursive resolver does.
 */
export function spfZoneResolver(zonedata: SpfZoneData): TestResolver {
  type Rec = [string, unknown] | 'TIMEOUT';
  const zone = new Map<string, Rec[]>();
  for (const [owner, list] of Object.entries(zonedata)) {
    const out: Rec[] = [];
    const generated: Rec[] = [];
    let gen = true;
    for (const item of list ?? []) {
      if (typeof item === 'string') {
        out.push('TIMEOUT');
        continue;
      }
      for (const [t, v] of Object.entries(item)) {
        if (t === 'TXT') gen = false;
        else if (t === 'SPF' && gen) generated.push(['TXT', v]);
        if (v !== 'NONE') out.push([t, v]);
      }
    }
    if (gen) out.push(...generated);
    zone.set(normName(owner), out);
  }

  const lookup = (name: string, rrtype: string, depth: number): unknown => {
    const labels = name.split('.');
    if (labels.some(l => l.length > 63)) throw dnsError('EBADNAME', name, rrtype);
    const n = normName(name);
    const recs = zone.get(n);
    if (!recs) {
      if (n.startsWith('error.')) throw dnsError('ETIMEOUT', name, rrtype);
      throw dnsError('ENOTFOUND', name, rrtype);
    }
    let seen = false;
    const found: unknown[] = [];
    let cname: string | null = null;
    for (const r of recs) {
      if (r === 'TIMEOUT') {
        if (!seen) throw dnsError('ETIMEOUT', name, rrtype);
        break;
      }
      const [t, v] = r;
      if (t === rrtype) seen = true;
      if (v === 'TIMEOUT') {
        if (t === rrtype) throw dnsError('ETIMEOUT', name, rrtype);
        continue;
      }
      if (t === 'CNAME' && rrtype !== 'CNAME') cname = String(v);
      if (t === rrtype) found.push(v);
    }
    if (!found.length && cname && depth < 8) return lookup(cname, rrtype, depth + 1);
    if (!found.length) throw dnsError('ENODATA', name, rrtype);
    switch (rrtype) {
      case 'TXT':
        return found.map(v => (Array.isArray(v) ? v.map(String) : [String(v)]));
      case 'MX':
        return found.map(v => {
          const [priority, exchange] = v as [number, string];
          return { priority: Number(priority), exchange: String(exchange) };
        });
      default:
        return found.map(String);
    }
  };

  return async (name: string, rrtype: string) => lookup(name, rrtype, 0);
}
