// A private Rspamd for tests: a minimal configuration (no stock modules, no hyperscan
// compilation, DNS pointed at a closed port) with one normal worker on a free loopback
// port and three Lua rules of ours; it answers /checkv2 about a second after starting.
//
// Rspamd's workers outlive a killed main process, so it runs in a process group of its
// own under a shell that kills the whole group when rspamd exits or when this test
// process disappears (checked every second); stop() signals that group.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rspamdPing } from '../../src/pipeline/filter/external/rspamd-client.ts';
import { startDaemon } from './daemon.ts';
import { findFreePort } from './peers.ts';

export const RSPAMD = '/usr/bin/rspamd';
/** A message containing this word hits HERMES_EXT_TEST (6.5). */
export const RSPAMD_TEST_TOKEN = 'hermes-external-spam-token';
/** ... and this one HERMES_EXT_HAM (-2). */
export const RSPAMD_HAM_TOKEN = 'hermes-external-ham-token';

export interface Rspamd {
  /** "http://127.0.0.1:<port>" (the external.rspamd setting) */
  url: string;
  port: number;
  stop(): Promise<void>;
  cleanup(): void;
  log(): string;
}

// HERMES_EXT_ENVELOPE reports what Rspamd received in the request headers (IP, Helo,
// From, Rcpt) as its options, so tests can see the envelope got there.
const RULES = `
local function has(task, word)
  local raw = task:get_content()
  return raw ~= nil and tostring(raw):find(word, 1, true) ~= nil
end
rspamd_config.HERMES_EXT_TEST = {
  callback = function(task) return has(task, '${RSPAMD_TEST_TOKEN}') end,
  score = 6.5, description = 'Hermes external engine test token', group = 'hermes',
}
rspamd_config.HERMES_EXT_HAM = {
  callback = function(task) return has(task, '${RSPAMD_HAM_TOKEN}') end,
  score = -2.0, description = 'Hermes external engine ham token', group = 'hermes',
}
rspamd_config.HERMES_EXT_ENVELOPE = {
  callback = function(task)
    local opts = {}
    local ip = task:get_from_ip()
    if ip and ip:is_valid() then table.insert(opts, 'ip=' .. ip:to_string()) end
    local helo = task:get_helo()
    if helo then table.insert(opts, 'helo=' .. helo) end
    local from = task:get_from('smtp')
    if from and from[1] then table.insert(opts, 'from=' .. from[1].addr) end
    local rcpts = {}
    for _, r in ipairs(task:get_recipients('smtp') or {}) do table.insert(rcpts, r.addr) end
    if #rcpts > 0 then table.insert(opts, 'rcpt=' .. table.concat(rcpts, '+')) end
    if #opts == 0 then return false end
    return true, 1.0, table.unpack(opts)
  end,
  score = 0.25, description = 'What Rspamd got of the SMTP envelope', group = 'hermes',
}
`;

export async function startRspamd(o: { readyTimeoutMs?: number } = {}): Promise<Rspamd> {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-rspamd-'));
  mkdirSync(join(dir, 'db'));
  writeFileSync(join(dir, 'rules.lua'), RULES);
  const port = await findFreePort();
  writeFileSync(
    join(dir, 'rspamd.conf'),
    [
      'options {',
      `  dbdir = "${join(dir, 'db')}";`,
      '  filters = "";',
      '  disable_hyperscan = true;',
      '  dns { nameserver = ["127.0.0.1:1"]; timeout = 0.1s; retransmits = 0; }',
      '}',
      'logging { type = "console"; level = "notice"; }',
      'actions { reject = 15; add_header = 6; greylist = 4; }',
      `worker "normal" { bind_socket = "127.0.0.1:${port}"; count = 1; }`,
      `lua = "${join(dir, 'rules.lua')}";`,
      '',
    ].join('\n'),
  );
  // $1: our PID. The shell waits while both we and rspamd live, then kills its group.
  const watchdog = `"${RSPAMD}" -c "${join(dir, 'rspamd.conf')}" -f -i & r=$!
while kill -0 "$1" 2>/dev/null && kill -0 "$r" 2>/dev/null; do sleep 1; done
kill -KILL 0`;
  const url = `http://127.0.0.1:${port}`;
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const daemon = await startDaemon({
    name: 'rspamd',
    command: '/bin/sh',
    args: ['-c', watchdog, 'sh', String(process.pid)],
    processGroup: true,
    captureStdout: true,
    ping: () => rspamdPing({ url, timeoutMs: 2000 }),
    pingName: '/ping',
    readyTimeoutMs: o.readyTimeoutMs,
    killAfterMs: 10_000,
    onStartFailure: cleanup,
  });
  return { url, port, stop: daemon.stop, cleanup, log: daemon.output };
}
