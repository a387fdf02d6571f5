// `hermes app-password ...` and `hermes sender-address ...`: who signs in on the
// submission ports with what, and as which addresses they may send.
import type { Command } from 'commander';
import { cliActor } from '../services/actor.ts';
import { createAppPassword, listUserAppPasswords, revokeUserAppPassword } from '../services/app-password-service.ts';
import { addSenderAddress, getSenderAddresses, removeSenderAddress, type SenderAddresses } from '../services/sender-address-service.ts';
import { printTable, withDataDir, withDb } from './context.ts';

function printAddresses(s: SenderAddresses): void {
  console.log(`${s.user} may send as:`);
  if (s.own) console.log(`  ${s.own} (user name)`);
  for (const a of s.assigned) console.log(`  ${a}`);
  if (!s.own && !s.assigned.length) console.log('  (no address: assign one with "hermes sender-address add")');
}

export function registerSubmission(program: Command): void {
  const app = program.command('app-password').description('passwords for mail clients on the submission ports (587/465), per user');
  withDataDir(app.command('list <user>').description("list a user's app passwords")).action(async (user: string, o: { dataDir: string }) => {
    await withDb(o.dataDir, async (db) => {
      const rows = await listUserAppPasswords(db, cliActor(), user);
      printTable(rows.map((r) => ({ id: r.id, name: r.name, created: r.createdAt, last_used: r.lastUsedAt ?? '-', from: r.lastUsedAddress ?? '-' })), ['id', 'name', 'created', 'last_used', 'from'], '(no app passwords)');
    });
  });
  withDataDir(app.command('create <user> <name>').description('create an app password (printed once)')).action(async (user: string, name: string, o: { dataDir: string }) => {
    await withDb(o.dataDir, async (db) => {
      const r = await createAppPassword(db, cliActor(), user, name);
      console.log(`app password "${r.appPassword.name}" for ${r.appPassword.user} (id ${r.appPassword.id}):`);
      console.log(r.password);
      console.log('(shown only this once; the mail client signs in with the user name and this password)');
    });
  });
  withDataDir(app.command('revoke <user> <id-or-name>').description('revoke an app password')).action(async (user: string, id: string, o: { dataDir: string }) => {
    await withDb(o.dataDir, async (db) => {
      await revokeUserAppPassword(db, cliActor(), user, id);
      console.log(`revoked app password ${id} of ${user}`);
    });
  });

  const sender = program.command('sender-address').description('addresses a user may send as on the submission ports');
  withDataDir(sender.command('list <user>').description('the addresses a user may send as')).action(async (user: string, o: { dataDir: string }) => {
    await withDb(o.dataDir, async (db) => printAddresses(await getSenderAddresses(db, cliActor(), user)));
  });
  withDataDir(sender.command('add <user> <address>').description('let a user send as an address (or *@domain for every address of a domain)')).action(async (user: string, address: string, o: { dataDir: string }) => {
    await withDb(o.dataDir, async (db) => printAddresses(await addSenderAddress(db, cliActor(), user, address)));
  });
  withDataDir(sender.command('remove <user> <address>').description('take an assigned address away')).action(async (user: string, address: string, o: { dataDir: string }) => {
    await withDb(o.dataDir, async (db) => printAddresses(await removeSenderAddress(db, cliActor(), user, address)));
  });
}
