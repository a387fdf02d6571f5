// `hermes lists`: allow and block lists, global or per recipient (or domain). Changes
// apply to running gateways from their next message.
import type { Command } from 'commander';
import { cliActor } from '../services/actor.ts';
import { addToList, checkLists, LIST_DESCRIPTIONS, LIST_NAMES, listListEntries, removeFromList } from '../services/lists-service.ts';
import { collectPages } from '../services/page.ts';
import { printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

const HELP = `
Lists:
${LIST_NAMES.map((l) => `  ${l.padEnd(16)} ${LIST_DESCRIPTIONS[l]}`).join('\n')}

Entries: an address (user@example.com), a domain (example.com, also covering its
subdomains; *@example.com means the same), or a client network (192.0.2.0/24).
Senders are matched by envelope sender, client address and From header; an allow
entry matches the From header only when DMARC passed for it.
With --for, the entry belongs to that recipient's (or domain's) own list, which
takes precedence over the global one; within one list, allow wins over block.

Examples:
  hermes lists add block spammer.example
  hermes lists add allow newsletter@vendor.example --for alice@example.com
  hermes lists add allow-all 192.0.2.10
  hermes lists add recipient-allow abuse@example.com`;

export function registerLists(program: Command): void {
  const cmd = program.command('lists').description('allow and block lists (global and per recipient)').addHelpText('after', HELP);
  withDataDir(
    cmd
      .command('add <list> <entry>')
      .description(`add an entry to a list (${LIST_NAMES.join(', ')})`)
      .option('--for <recipient>', "a recipient's or domain's own list (default: the global list)")
      .option('--comment <text>', 'a note for admins'),
  ).action(async (list: string, entry: string, o: D & { for?: string; comment?: string }) => {
    await withDb(o.dataDir, async (db) => {
      const r = await addToList(db, cliActor(), { list, value: entry, ...(o.for ? { owner: o.for } : {}), comment: o.comment ?? null });
      console.log(`${r.list}${r.owner ? ` for ${r.owner}` : ' (global)'}: added ${r.kind} ${r.value}`);
    });
  });
  withDataDir(cmd.command('remove <list> <entry>').description('remove an entry').option('--for <recipient>', "a recipient's or domain's own list")).action(
    async (list: string, entry: string, o: D & { for?: string }) => {
      await withDb(o.dataDir, async (db) => {
        if (!(await removeFromList(db, cliActor(), { list, value: entry, ...(o.for ? { owner: o.for } : {}) }))) throw new Error(`${entry} is not on the ${list} list${o.for ? ` of ${o.for}` : ''}`);
        console.log(`removed ${entry} from ${list}${o.for ? ` of ${o.for}` : ''}`);
      });
    },
  );
  withDataDir(
    cmd
      .command('check')
      .description('what the lists say about a message: sender, recipients, client address')
      .requiredOption('--from <sender>', 'envelope sender (and From header)')
      .requiredOption('--to <recipients>', 'recipients, comma-separated')
      .option('--ip <address>', 'client address', '192.0.2.1')
      .option('--dmarc-pass', 'DMARC passed for the From domain (allow entries may then match the From header)'),
  ).action(async (o: D & { from: string; to: string; ip: string; dmarcPass?: boolean }) => {
    await withDb(o.dataDir, async (db) => {
      const v = await checkLists(db, cliActor(), { from: o.from, to: o.to.split(',').map((r) => r.trim()).filter(Boolean), ip: o.ip, ...(o.dmarcPass ? { dmarcPass: true } : {}) });
      if (v.allowAll) console.log(`every check skipped: ${v.allowAll}`);
      for (const { recipient: rcpt, ...m } of v.recipients) console.log(`${rcpt}: ${m.block ? `blocked (${m.block})` : m.skipSpam ? `spam checks skipped (${m.skipSpam})` : 'no list entry applies'}`);
    });
  });
  withDataDir(cmd.command('show').description('show list entries').option('--list <list>', 'only this list').option('--for <recipient>', "only this recipient's or domain's entries ('' for global)")).action(
    async (o: D & { list?: string; for?: string }) => {
      await withDb(o.dataDir, async (db) => {
        const entries = await collectPages((cursor, limit) => listListEntries(db, cliActor(), { ...(o.list ? { list: o.list } : {}), ...(o.for !== undefined ? { owner: o.for } : {}), ...(cursor ? { cursor } : {}), limit }));
        // Printed in list, owner, value order as before (the service pages by id).
        const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
        const rows = entries.sort((a, b) => cmp(a.list, b.list) || cmp(a.owner, b.owner) || cmp(a.value, b.value));
        printTable(rows.map((r) => ({ ...r, owner: r.owner || '(global)', comment: r.comment ?? '' })), ['list', 'owner', 'kind', 'value', 'comment']);
      });
    },
  );
}
