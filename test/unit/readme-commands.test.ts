// Every `npx hermes ...` line of the README's shell blocks names a command that exists,
// with options that command has: the README is what users type first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerInit } from '../../src/cli/init-command.ts';
import { registerStart } from '../../src/cli/start-command.ts';
import { registerPolicy } from '../../src/cli/policy-commands.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function program(): Command {
  const p = new Command();
  for (const register of [registerInit, registerStart, registerPolicy]) register(p);
  return p;
}

/** The command a line invokes (deepest subcommand that matches) and the options it gives. */
function invocation(p: Command, words: string[]): { cmd: Command; flags: string[] } | null {
  let cmd: Command | undefined = p;
  let i = 0;
  for (; i < words.length; i++) {
    const next: Command | undefined = cmd.commands.find((c) => c.name() === words[i] || c.aliases().includes(words[i]!));
    if (!next) break;
    cmd = next;
  }
  if (cmd === p) return null;
  return { cmd, flags: words.slice(i).filter((w) => w.startsWith('--')).map((w) => w.split('=')[0]!) };
}

test('README: the hermes command lines for init, start and the policy commands use options those commands have', () => {
  const p = program();
  const lines = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n'));
  const calls = lines.flatMap((l) => l.split('&&')).map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l.startsWith('npx hermes '));
  let checked = 0;
  for (const call of calls) {
    const words = call.split(/\s+/).slice(2);
    const inv = invocation(p, words);
    if (!inv) continue; // a command this test does not load
    const known = new Set(inv.cmd.options.flatMap((o) => [o.long, o.short]).filter(Boolean));
    for (const f of inv.flags) assert.ok(known.has(f), `README: "${call}": ${inv.cmd.name()} has no option ${f}`);
    checked++;
  }
  assert.ok(checked >= 5, `only ${checked} README lines checked`);
});

test('README: an option named in the text just above a command block belongs to a command of that block', () => {
  const p = program();
  for (const m of readme.matchAll(/([^\n]*(?:\n[^\n`][^\n]*)*)\n\n```sh\n([\s\S]*?)```/g)) {
    const flags = [...m[1]!.matchAll(/`(--[a-z-]+)`/g)].map((f) => f[1]!);
    if (!flags.length) continue;
    const options = new Set(
      m[2]!.split('\n').flatMap((l) => l.split('&&')).map((l) => l.trim()).filter((l) => l.startsWith('npx hermes '))
        .flatMap((l) => invocation(p, l.split(/\s+/).slice(2))?.cmd.options.map((o) => o.long) ?? []),
    );
    for (const f of flags) assert.ok(options.has(f), `README says to give ${f} to: ${m[2]!.trim()}`);
  }
});
