// `hermes digest run`, `hermes notify run`, `hermes portal invite|delegate|undelegate`:
// the notification jobs and portal accounts from the command line. Mail they write goes
// into spool directory 0 and the index ("deferred, due now"), which the running gateway
// delivers within a second; the job lock in the database keeps a CLI run and the
// gateway's own timer from sending the same digest twice.
import type { Command } from 'commander';
import pino from 'pino';
import type { LoadedConfig } from '../config/bootstrap.ts';
import type { Db } from '../db/database.ts';
import { buildPlainMail } from '../notify/compose.ts';
import { portalBase, senderAddress, type NotifyContext } from '../notify/context.ts';
import { runAdminChecks } from '../notify/admin-checks.ts';
import { runDigests, signInLink } from '../notify/digest-job.ts';
import { runHeldNotices } from '../notify/held-notices.ts';
import { openNotifier } from '../notify/open-notifier.ts';
import { SpoolReleaseQueue } from '../quarantine/release-queue.ts';
import { cliActor } from '../services/actor.ts';
import { delegateAddress, ensurePortalAccount } from '../services/portal-accounts.ts';
import { PolicyStore } from '../smtp/relay-policy.ts';
import { Spool } from '../spool/spool-file.ts';
import { withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

async function withNotifier<T>(dataDir: string, fn: (c: NotifyContext, db: Db, cfg: LoadedConfig) => Promise<T>): Promise<T> {
  return withDb(dataDir, async (db, cfg) => {
    const queue = new SpoolReleaseQueue(new Spool(cfg.storage.spool, 0), db);
    const policy = new PolicyStore(db);
    await policy.current();
    try {
      return await fn(openNotifier({ db, config: cfg, log: pino({ level: 'warn' }, pino.destination(2)), queue, policy, holder: `cli:${process.pid}` }), db, cfg);
    } finally {
      await queue.close();
    }
  });
}

export function registerPortal(program: Command): void {
  const digest = program.command('digest').description('quarantine digests to recipients');
  withDataDir(
    digest
      .command('run')
      .description('send the digests that are due now (each recipient at its frequency; none when nothing new was held)')
      .option('--force', 'send to every recipient with something new, due or not'),
  ).action(async (o: D & { force?: boolean }) => {
    await withNotifier(o.dataDir, async (c) => {
      const t0 = performance.now();
      const r = await runDigests(c, {
        ...(o.force ? { force: true } : {}),
        onProgress: (p) => console.log(`recipients ${p.recipientsSeen}  digests ${p.digestsSent}  messages ${p.messagesListed}  not due ${p.skippedNotDue}  nothing new ${p.skippedNothingNew}  failed ${p.failed}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`),
      });
      if (!r.ran) throw new Error(`another run holds the digest lock (${r.heldBy ?? 'unknown'}); try again in a few minutes`);
      console.log(`done: ${r.result.digestsSent} digests listing ${r.result.messagesListed} messages to ${r.result.recipientsSeen} recipients with held mail, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      if (r.result.failed) process.exitCode = 1;
    });
  });

  const notify = program.command('notify').description('held-message notices and admin notifications');
  withDataDir(notify.command('run').description('send due held-message notices and run the admin checks (queue age, certificate, engines, disk) once')).action(async (o: D) => {
    await withNotifier(o.dataDir, async (c) => {
      const n = await runHeldNotices(c);
      console.log(n.ran ? `held-message notices: ${n.result.sent} sent, ${n.result.failed} failed` : `held-message notices: running elsewhere (${n.heldBy})`);
      const a = await runAdminChecks(c);
      console.log(a.ran ? `admin checks: ${a.result.alerts.length ? a.result.alerts.join(', ') : 'all well'}; mailed: ${a.result.sent.join(', ') || 'none'}` : `admin checks: running elsewhere (${a.heldBy})`);
    });
  });

  const portal = program.command('portal').description('user portal accounts');
  withDataDir(portal.command('invite <address>').description('create the portal account of a recipient and mail it a link to set its password')).action(async (address: string, o: D) => {
    await withNotifier(o.dataDir, async (c, db) => {
      const { user, created } = await ensurePortalAccount(db, cliActor(), address);
      const s = await c.settings();
      const link = signInLink(await c.links(), portalBase(s, c.hostname, c.httpPort), s, user.username, Date.now());
      const from = senderAddress(s, c.hostname);
      const message = await buildPlainMail({
        from,
        to: user.username,
        subject: 'Your mail portal account',
        hostname: c.hostname,
        text: `You can now see and release the mail the gateway held for ${user.username}, keep your own allow and block lists, and choose how often you get a quarantine digest.\n\nSet your password with the link below. It works once and expires in ${s['portal.linkHours']} hours.`,
        link: { href: link, label: 'Set your password' },
      });
      const id = await c.mailer.send({ from, to: [user.username], message, kind: 'invitation' });
      console.log(`${created ? 'created' : 'invited again'}: ${user.username}; invitation queued as ${id}`);
    });
  });
  withDataDir(portal.command('delegate <user> <address>').description('let a portal user see and act on the mail of another address (a shared mailbox)')).action(async (user: string, address: string, o: D) => {
    await withDb(o.dataDir, async (db) => console.log(`${user}: ${(await delegateAddress(db, cliActor(), user, address)).join(', ')}`));
  });
  withDataDir(portal.command('undelegate <user> <address>').description('take a delegated address away from a portal user')).action(async (user: string, address: string, o: D) => {
    await withDb(o.dataDir, async (db) => console.log(`${user}: ${(await delegateAddress(db, cliActor(), user, address, true)).join(', ') || '(no delegated addresses)'}`));
  });
}
