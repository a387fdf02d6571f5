// `hermes admin ...`: accounts from the shell, for the administrator who is locked out of
// the console (or has no administrator left). Acts as cliActor(), so it is audited.
import type { Command } from 'commander';
import { cliActor, ROLES, type Role } from '../services/actor.ts';
import { unlock } from '../services/login-throttle.ts';
import { createUser, listUsers, resetPassword, resetTotp, type UserInfo } from '../services/user-service.ts';
import { printTable, withDataDir, withDb } from './context.ts';

function parseRole(r: string): Role {
  if (!(ROLES as readonly string[]).includes(r)) throw new Error(`role must be one of ${ROLES.join(', ')}`);
  return r as Role;
}

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('console and API accounts: list, create, unlock, reset a password or 2FA');

  withDataDir(admin.command('list').description('list the accounts')).action(async (o: { dataDir: string }) => {
    await withDb(o.dataDir, async (db) => {
      const rows: UserInfo[] = [];
      let cursor: string | undefined;
      do {
        const page = await listUsers(db, cliActor(), { cursor, limit: 500 });
        rows.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      printTable(
        rows.map((u) => ({ username: u.username, role: u.role, domains: u.domains?.join(',') ?? '*', '2fa': u.totpEnabled ? 'on' : 'off', state: u.disabled ? 'disabled' : u.mustChangePassword ? 'must change password' : 'active', last_login: u.lastLoginAt ?? '-' })),
        ['username', 'role', 'domains', '2fa', 'state', 'last_login'],
        '(no accounts)',
      );
    });
  });

  withDataDir(
    admin
      .command('create <username>')
      .description('create an account with a generated password (printed once, changed at first sign-in)')
      .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
      .option('--domains <list>', 'comma-separated domains (domain-admin only)'),
  ).action(async (username: string, o: { dataDir: string; role: string; domains?: string }) => {
    await withDb(o.dataDir, async (db) => {
      const r = await createUser(db, cliActor(), { username, role: parseRole(o.role), domains: o.domains ? o.domains.split(',') : null });
      console.log(`created ${r.user.username} (${r.user.role})`);
      console.log(`temporary password: ${r.password}`);
      console.log('(shown only this once; it must be changed at the first sign-in)');
    });
  });

  withDataDir(
    admin
      .command('unlock <username>')
      .description('lift a sign-in lockout of an account (and of a client address)')
      .option('--address <ip>', 'also lift the lockout of this client address'),
  ).action(async (username: string, o: { dataDir: string; address?: string }) => {
    await withDb(o.dataDir, async (db) => {
      const r = await unlock(db, cliActor(), username, o.address);
      console.log(`${username.toLowerCase()}: ${r.account ? 'unlocked' : 'was not locked (failure count cleared)'}`);
      if (o.address) console.log(`${o.address}: ${r.address ? 'unlocked' : 'was not locked (failure count cleared)'}`);
    });
  });

  withDataDir(admin.command('reset-password <username>').description('set a new temporary password (printed once; ends the account\'s sessions)')).action(async (username: string, o: { dataDir: string }) => {
    await withDb(o.dataDir, async (db) => {
      const r = await resetPassword(db, cliActor(), username);
      console.log(`temporary password for ${r.user.username}: ${r.password}`);
      console.log('(shown only this once; it must be changed at the next sign-in)');
    });
  });

  withDataDir(admin.command('reset-2fa <username>').description('turn two-factor authentication off for an account (it enrols again)')).action(async (username: string, o: { dataDir: string }) => {
    await withDb(o.dataDir, async (db) => {
      const u = await resetTotp(db, cliActor(), username);
      console.log(`two-factor authentication of ${u.username} is off; recovery codes removed`);
    });
  });
}
