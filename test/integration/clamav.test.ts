// Malware scanning against a real ClamAV daemon (clamav-daemon, private instance with a
// local EICAR signature): what clamd and the built-in check find in attachments and zip
// archives, that clean mail is clean, and that a stopped clamd becomes a scan error,
// which the decide stage answers with the configured temporary failure (451 by default).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SETTINGS_DEFAULTS, setSetting } from '../../src/config/settings.ts';
import { malwareStage, type MalwareSettings } from '../../src/pipeline/filter/malware/stage.ts';
import { clamdPing, clamdScan, clamdVersion } from '../../src/pipeline/filter/malware/clamd.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDataDir } from '../../src/cli/init-command.ts';
import { loadConfig } from '../../src/config/bootstrap.ts';
import { openDatabase } from '../../src/db/database.ts';
import { runCli } from '../helpers/gateway.ts';
import { startClamd, TEST_SIGNATURE, type Clamd } from '../helpers/clamd.ts';
import { composeMessage, contextFor, EICAR_FILE, makeZip } from '../helpers/attachments.ts';

let clamd: Clamd;

before(async () => {
  clamd = await startClamd({ streamMaxLength: '1M' });
});

after(async () => {
  await clamd?.stop();
  clamd?.cleanup();
});

const settings = (address: string, over: Partial<MalwareSettings> = {}) => () => ({
  ...SETTINGS_DEFAULTS,
  'malware.clamd': address,
  'malware.timeoutMs': 60_000,
  ...over,
});

async function scan(raw: Buffer, address: string, over: Partial<MalwareSettings> = {}) {
  const ctx = contextFor(raw);
  await malwareStage({ settings: settings(address, over) }).run(ctx);
  return ctx;
}

test('clamd answers PING and VERSION on its unix socket and on TCP', async () => {
  await clamdPing({ address: clamd.unix, timeoutMs: 10_000 });
  await clamdPing({ address: clamd.tcp, timeoutMs: 10_000 });
  assert.match(await clamdVersion({ address: clamd.tcp, timeoutMs: 10_000 }), /^ClamAV \d+\.\d+/);
});

test('EICAR as an attachment: found by clamd and by the built-in check', async () => {
  const raw = await composeMessage({ attachments: [{ filename: 'eicar.com', content: EICAR_FILE }] });
  const ctx = await scan(raw, clamd.unix);
  assert.deepEqual(ctx.findings.malware, {
    infected: [
      { engine: 'builtin', name: 'Eicar-Test-Signature', where: 'eicar.com' },
      { engine: 'clamd', name: TEST_SIGNATURE, where: 'message' },
    ],
    errors: [],
  });
  const trace = ctx.events.find(([t]) => t === 'malware')![1];
  assert.deepEqual(trace.engines.clamd, { infected: [`${TEST_SIGNATURE} in message`] });
});

test('EICAR inside a zip archive (deflated, so only an unpacking scanner sees it): found by both, also over TCP', async () => {
  const zip = makeZip([
    { name: 'readme.txt', data: 'see the other file' },
    { name: 'tools/eicar.txt', data: EICAR_FILE },
  ]);
  assert.equal(zip.indexOf(EICAR_FILE), -1, 'the string is not in the archive bytes as such');
  const raw = await composeMessage({ attachments: [{ filename: 'tools.zip', content: zip }] });
  for (const address of [clamd.unix, clamd.tcp]) {
    const v = (await scan(raw, address)).findings.malware!;
    assert.deepEqual(v.errors, []);
    assert.deepEqual(
      v.infected.map((f) => `${f.engine}: ${f.name} in ${f.where}`),
      ['builtin: Eicar-Test-Signature in tools.zip/tools/eicar.txt', `clamd: ${TEST_SIGNATURE} in message`],
    );
  }
});

test('clean mail is clean for both engines, also with many scans at once and tiny INSTREAM chunks', async () => {
  const raw = await composeMessage({
    text: 'Minutes of the meeting attached.',
    attachments: [
      { filename: 'minutes.pdf', content: '%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n' },
      { filename: 'sheets.zip', content: makeZip([{ name: 'q1.csv', data: 'a,b\n1,2\n'.repeat(5000) }]) },
    ],
  });
  const results = await Promise.all(Array.from({ length: 8 }, () => scan(raw, clamd.unix)));
  for (const ctx of results) assert.deepEqual(ctx.findings.malware, { infected: [], errors: [] });
  // The signature split across many 7-byte chunks is still reassembled by clamd.
  const infected = await composeMessage({ attachments: [{ filename: 'e.com', content: EICAR_FILE }] });
  assert.deepEqual(await clamdScan({ address: clamd.unix, timeoutMs: 60_000, chunkBytes: 7 }, infected), { found: [TEST_SIGNATURE] });
  assert.deepEqual(await clamdScan({ address: clamd.unix, timeoutMs: 60_000, chunkBytes: 7 }, raw), { found: [] });
});

test("a message over clamd's StreamMaxLength is noted as not scanned, and clamd keeps working", async () => {
  const raw = await composeMessage({ attachments: [{ filename: 'big.bin', content: Buffer.alloc(1536 * 1024, 7) }] });
  const ctx = await scan(raw, clamd.unix);
  assert.deepEqual(ctx.findings.malware, { infected: [], errors: [] });
  assert.match(ctx.events.find(([t]) => t === 'malware')![1].engines.clamd.skipped, /size limit exceeded/);
  await clamdPing({ address: clamd.unix, timeoutMs: 10_000 });
});

test('hermes malware status and scan: clamd configured in the settings, message files judged by both engines', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-malware-cli-'));
  try {
    const dataDir = join(dir, 'data');
    await initDataDir({ dataDir, hostname: 'mx.gateway.test', smtpPort: '2525', smtpHost: '127.0.0.1', dns: '127.0.0.1:53' }, () => {});
    const db = openDatabase(loadConfig(dataDir).storage.database);
    try {
      await setSetting(db, 'malware.clamd', clamd.unix);
    } finally {
      await db.destroy();
    }
    const eicar = join(dir, 'eicar.eml');
    const clean = join(dir, 'clean.eml');
    writeFileSync(eicar, await composeMessage({ attachments: [{ filename: 'files.zip', content: makeZip([{ name: 'eicar.txt', data: EICAR_FILE }]) }] }));
    writeFileSync(clean, await composeMessage({ text: 'hello' }));
    const status = await runCli(['malware', 'status', '--data-dir', dataDir]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^clamd unix:.*: ClamAV \d/m);
    const r = await runCli(['malware', 'scan', eicar, clean, '--data-dir', dataDir]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stdout,
      [
        `${eicar}: FOUND Eicar-Test-Signature in files.zip/eicar.txt (builtin)`,
        `${eicar}: FOUND ${TEST_SIGNATURE} in message (clamd)`,
        `${clean}: clean`,
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('clamd stopped: every scan records a clamd error (the decide stage answers 451 by default)', async () => {
  await clamd.stop();
  const raw = await composeMessage({ attachments: [{ filename: 'eicar.com', content: EICAR_FILE }] });
  for (const address of [clamd.unix, clamd.tcp]) {
    const v = (await scan(raw, address)).findings.malware!;
    assert.equal(v.errors.length, 1);
    assert.equal(v.errors[0]!.engine, 'clamd');
    assert.match(v.errors[0]!.error, /^clamd unreachable at (unix|tcp):.* \((ENOENT|ECONNREFUSED)\)$/);
    assert.deepEqual(v.infected.map((f) => f.engine), ['builtin'], 'the built-in check still reports EICAR');
  }
  assert.equal(SETTINGS_DEFAULTS['malware.onError'], 'tempfail');
});
