// The `hermes filerules` commands as an admin uses them: list and show the shipped set,
// check local files against it (exit code 2 when something is banned), make a copy,
// add and remove rules, with clear errors and help on every command.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDataDir } from '../../src/cli/init-command.ts';
import { Command } from 'commander';
import { registerFileRules } from '../../src/cli/filerules-commands.ts';
import { runCli } from '../helpers/gateway.ts';
import { composeMessage, makeZip, peExecutable } from '../helpers/attachments.ts';

let dir: string;
let dataDir: string;
const cli = (...args: string[]) => runCli(['filerules', ...args, '--data-dir', dataDir]);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hermes-filerules-cli-'));
  dataDir = join(dir, 'data');
  await initDataDir({ dataDir, hostname: 'mx.gateway.test', smtpPort: '2525', smtpHost: '127.0.0.1', dns: '127.0.0.1:53' }, () => {});
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('filerules list and show: the shipped default set with its rules in order', async () => {
  const list = await cli('list');
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^default\s+5\s+/m);
  const show = await cli('show', 'default');
  assert.equal(show.code, 0, show.stderr);
  const order = [...show.stdout.matchAll(/^\d+\s+(\S+)\s+ban\s/gm)].map((m) => m[1]);
  assert.deepEqual(order, ['disguised-name', 'double-extension', 'executable-extension', 'executable-content', 'executable-declared']);
  const missing = await cli('show', 'nope');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no file rule set "nope"/);
});

test('filerules test: local files and messages judged as the gateway would; exit code 2 when banned', async () => {
  const pdf = join(dir, 'invoice.pdf');
  const txt = join(dir, 'notes.txt');
  const eml = join(dir, 'mail.eml');
  writeFileSync(pdf, peExecutable());
  writeFileSync(txt, 'meeting notes');
  writeFileSync(eml, await composeMessage({ attachments: [{ filename: 'docs.zip', content: makeZip([{ name: 'setup.exe', data: 'x' }]) }] }));
  const r = await cli('test', 'default', pdf, txt);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stdout, /^BANNED\s+invoice\.pdf .*rule executable-content: named \.pdf but the content is a Windows executable$/m);
  assert.match(r.stdout, /^ok\s+notes\.txt/m);
  const m = await cli('test', 'default', '--message', eml);
  assert.equal(m.code, 2);
  assert.match(m.stdout, /^BANNED\s+docs\.zip\/setup\.exe .*rule executable-extension: extension \.exe$/m);
  const clean = await cli('test', 'default', txt);
  assert.equal(clean.code, 0);
});

test('filerules create, add (with a bad value refused), remove and delete', async () => {
  assert.equal((await cli('create', 'strict', '--from', 'default')).code, 0);
  const bad = await cli('add', 'strict', 'macros', '--kind', 'detected-type', '--values', 'macro');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /"macro" is not a content kind or family/);
  const add = await cli('add', 'strict', 'macros', '--kind', 'detected-type', '--values', 'macros', '--before', 'disguised-name', '--description', 'no Office macros');
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /^1\s+macros\s+ban\s+detected-type\s+macros\s+yes\s+no Office macros$/m);
  assert.equal((await cli('remove', 'strict', 'macros')).code, 0);
  const refused = await cli('delete', 'default');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /cannot be deleted/);
  assert.equal((await cli('delete', 'strict')).code, 0);
  assert.doesNotMatch((await cli('list')).stdout, /strict/);
});

test('filerules: every command has help text', () => {
  // Read in-process from the same command definitions the CLI registers (one process
  // per --help would only measure start-up time).
  const program = new Command('hermes');
  registerFileRules(program);
  const fr = program.commands.find((c) => c.name() === 'filerules')!;
  assert.deepEqual(fr.commands.map((c) => c.name()).sort(), ['add', 'create', 'delete', 'list', 'remove', 'reset', 'show', 'test']);
  for (const c of fr.commands) {
    assert.ok(c.description().length > 10, `${c.name()} has a description`);
    assert.match(c.helpInformation(), /^Usage: hermes filerules /m);
  }
  const add = fr.commands.find((c) => c.name() === 'add')!;
  const help: string[] = [];
  add.configureOutput({ writeOut: (s) => help.push(s) });
  add.outputHelp();
  assert.match(help.join(''), /Rule kinds \(--kind\):[\s\S]*detected-type[\s\S]*Examples:/);
});
