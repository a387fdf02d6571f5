// `hermes install-service`: the unit runs the built gateway unprivileged and confined,
// and systemd itself (systemd-analyze verify) accepts it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { initDataDir } from '../../src/cli/init-command.ts';
import { HERMES_BIN, runCli } from '../helpers/gateway.ts';

const run = promisify(execFile);
let dir: string;
let dataDir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hermes-unit-'));
  dataDir = join(dir, 'data');
  await initDataDir({ dataDir, hostname: 'mx.gateway.test', smtpPort: '2525', smtpHost: '127.0.0.1' }, () => {});
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** [section] → key → values, parsed as systemd reads a unit (comments and blank lines skipped). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  for (const line of text.split('\n')) {
    if (!line.trim() || /^[#;]/.test(line)) continue;
    const head = /^\[([A-Za-z]+)\]$/.exec(line);
    if (head) {
      current = new Map();
      sections.set(head[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv && current, `a key=value line inside a section: ${line}`);
    current.set(kv[1]!, [...(current.get(kv[1]!) ?? []), kv[2]!]);
  }
  return sections;
}

test('install-service --print: unprivileged, CAP_NET_BIND_SERVICE only, strict filesystem, journal, restart on failure', async () => {
  const r = await runCli(['install-service', '--print', '--user', 'mailgw', '--data-dir', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  const unit = parseUnit(r.stdout);
  assert.deepEqual([...unit.keys()], ['Unit', 'Service', 'Install']);
  const s = unit.get('Service')!;
  const one = (k: string) => s.get(k)?.join(' ');
  assert.equal(one('User'), 'mailgw');
  assert.equal(one('ExecStart'), `${process.execPath} ${HERMES_BIN} start --data-dir ${dataDir}`);
  assert.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('ReadWritePaths'), dataDir);
  assert.equal(one('PrivateTmp'), 'yes');
  assert.equal(one('ProtectHome'), 'yes');
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('StandardOutput'), 'journal');
  assert.equal(unit.get('Install')!.get('WantedBy')?.[0], 'multi-user.target');
});

test('install-service --path writes the unit, hints at creating the user, and systemd-analyze verify accepts it', async () => {
  const path = join(dir, 'hermes.service');
  const r = await runCli(['install-service', '--path', path, '--user', 'hermes-test-nouser', '--data-dir', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`wrote ${path}`));
  assert.match(r.stdout, /useradd --system .* hermes-test-nouser/);
  assert.equal(statSync(path).mode & 0o777, 0o644);
  // systemd-analyze is part of systemd (installed on this machine and any systemd host).
  const { stdout, stderr } = await run('systemd-analyze', ['verify', path]).catch((err: { stdout: string; stderr: string; code: number }) => {
    assert.fail(`systemd-analyze verify failed (${err.code}): ${err.stderr}`);
  });
  assert.doesNotMatch(stdout + stderr, /hermes\.service:\d+: /, 'no complaint about a line of the unit');
  assert.match(readFileSync(path, 'utf8'), /^ProtectSystem=strict$/m);
});

test('install-service refuses a user name systemd would not accept', async () => {
  const r = await runCli(['install-service', '--print', '--user', 'Bad User', '--data-dir', dataDir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid user name/);
});
