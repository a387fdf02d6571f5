// `hermes quarantine`: held messages from the command line. Works beside a running
// gateway: a release is written to the spool and index, and the gateway delivers it
// within a second or two.
import type { Command } from 'commander';
import { loadSettings } from '../config/settings.ts';
import { openQuarantine } from '../quarantine/open-quarantine.ts';
import { hamLearner } from '../quarantine/ham-learner.ts';
import { bayesLearner } from '../quarantine/bayes-learner.ts';
import { SqlBayesStore } from '../db/repos/bayes-store.ts';
import type { QuarantineService } from '../quarantine/quarantine-service.ts';
import type { Db } from '../db/database.ts';
import type { LoadedConfig } from '../config/bootstrap.ts';
import { cliActor } from '../services/actor.ts';
import { collectPages } from '../services/page.ts';
import {
  deleteQuarantined,
  getQuarantineItem,
  learnQuarantined,
  listQuarantine,
  rawQuarantined,
  releaseQuarantined,
  type QuarantineDeps,
  type QuarantineItem,
} from '../services/quarantine-service.ts';
import { fmtTime, printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

async function withQuarantine<T>(dataDir: string, fn: (q: QuarantineService, db: Db, cfg: LoadedConfig, deps: QuarantineDeps) => Promise<T>): Promise<T> {
  return withDb(dataDir, async (db, cfg) => {
    const bayes = new SqlBayesStore(db);
    const q = openQuarantine({ db, config: cfg, learnHam: hamLearner(bayes) });
    try {
      return await fn(q.service, db, cfg, { db, store: q.service, learn: bayesLearner(bayes) });
    } finally {
      await q.close();
    }
  });
}

/** "2026-11-01", an ISO time, or a duration back from now: "90m", "12h", "7d". */
export function parseSince(s: string, now = Date.now()): number {
  const m = /^(\d+)\s*([mhdw])$/i.exec(s.trim());
  if (m) return now - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2]!.toLowerCase() as 'm' | 'h' | 'd' | 'w'];
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`--since "${s}": give a date (2026-11-01), a time (2026-11-01T08:00Z) or a duration back from now (90m, 12h, 7d)`);
  return t;
}

const recipientsOf = (e: QuarantineItem) => e.recipients.map((r) => (r.state === 'held' ? r.address : `${r.address} (${r.state})`)).join(', ');

export function registerQuarantine(program: Command): void {
  const q = program.command('quarantine').description('held messages: list, show, release, delete, purge');

  withDataDir(
    q
      .command('list')
      .description('list held messages, newest first')
      .option('--recipient <address>', 'only messages held for this recipient')
      .option('--category <name>', 'only this category: spam, malware, banned, badheader, rule, auth, malformed')
      .option('--since <when>', 'only messages held since: a date, an ISO time, or a duration (12h, 7d)')
      .option('--all', 'also released and deleted messages')
      .option('--limit <n>', 'at most this many', '100'),
  ).action(async (o: D & { recipient?: string; category?: string; since?: string; all?: boolean; limit: string }) => {
    await withQuarantine(o.dataDir, async (_svc, _db, _cfg, deps) => {
      const filter = {
        ...(o.recipient ? { recipient: o.recipient } : {}),
        ...(o.category ? { category: o.category } : {}),
        ...(o.since ? { from: parseSince(o.since) } : {}),
        state: o.all ? ('all' as const) : ('held' as const),
      };
      const rows = await collectPages((cursor, limit) => listQuarantine(deps, cliActor(), { ...filter, ...(cursor ? { cursor } : {}), limit }), Number(o.limit));
      printTable(
        rows.map((e) => ({
          id: e.id,
          held: fmtTime(Date.parse(e.heldAt)),
          category: e.category,
          score: e.score ?? '-',
          state: e.state,
          from: (e.from || '<>').slice(0, 40),
          to: recipientsOf(e).slice(0, 60),
          subject: (e.subject ?? '').slice(0, 50),
        })),
        ['id', 'held', 'category', 'score', 'state', 'from', 'to', 'subject'],
        'the quarantine is empty',
      );
    });
  });

  withDataDir(
    q.command('show <id>').description('show a held message: verdict, symbols, recipients; --raw prints the message itself').option('--raw', 'print the message bytes as held'),
  ).action(async (id: string, o: D & { raw?: boolean }) => {
    await withQuarantine(o.dataDir, async (_svc, _db, _cfg, deps) => {
      if (o.raw) {
        process.stdout.write(await rawQuarantined(deps, cliActor(), id));
        return;
      }
      const e = await getQuarantineItem(deps, cliActor(), id, { headers: false });
      const line = (k: string, v: unknown) => console.log(`${k.padEnd(12)}${v === null || v === undefined || v === '' ? '-' : v}`);
      line('Id', e.id);
      line('Queue id', `${e.queueId} (see "hermes trace ${e.queueId}")`);
      line('Received', fmtTime(Date.parse(e.receivedAt)));
      line('Held', fmtTime(Date.parse(e.heldAt)));
      line('State', e.state);
      line('Category', e.category);
      line('Score', e.score);
      line('Reason', e.reason);
      line('From', e.from || '<>');
      line('Header From', e.headerFrom);
      line('Subject', e.subject);
      line('Message-ID', e.messageId);
      line('Size', `${e.size} bytes`);
      console.log('\nRecipients');
      printTable(
        e.recipients.map((r) => ({ recipient: r.address, state: r.state, released: r.releasedAt ? `${fmtTime(Date.parse(r.releasedAt))} as ${r.releasedAs}` : '' })),
        ['recipient', 'state', 'released'],
      );
      const symbols = e.symbols;
      console.log('\nSymbols');
      printTable(symbols.map((s) => ({ symbol: s.name, score: s.score, description: s.description ?? '' })), ['symbol', 'score', 'description']);
    });
  });

  withDataDir(
    q
      .command('release <id>')
      .description('deliver a held message as it was held (the check that held it is not run again)')
      .option('--recipient <address...>', 'release for these recipients only (default: every one still held)'),
  ).action(async (id: string, o: D & { recipient?: string[] }) => {
    await withQuarantine(o.dataDir, async (_svc, _db, _cfg, deps) => {
      const r = await releaseQuarantined(deps, cliActor(), id, { ...(o.recipient ? { recipients: o.recipient } : {}) });
      console.log(`released ${r.quarantineId} to ${r.recipients.join(', ')}: queued as ${r.queueId}; a running gateway delivers it within seconds`);
    });
  });

  withDataDir(
    q
      .command('release-and-learn-ham <id>')
      .description('release a message held wrongly and teach the Bayes classifier it is ham')
      .option('--recipient <address...>', 'release for these recipients only'),
  ).action(async (id: string, o: D & { recipient?: string[] }) => {
    await withQuarantine(o.dataDir, async (_svc, _db, _cfg, deps) => {
      const r = await releaseQuarantined(deps, cliActor(), id, { learnHam: true, ...(o.recipient ? { recipients: o.recipient } : {}) });
      console.log(`released ${r.quarantineId} to ${r.recipients.join(', ')}: queued as ${r.queueId}; learned as ham`);
    });
  });

  withDataDir(q.command('delete <id>').description('delete a held message for good (its trace stays)')).action(async (id: string, o: D) => {
    await withQuarantine(o.dataDir, async (_svc, _db, _cfg, deps) => {
      const r = await deleteQuarantined(deps, cliActor(), id);
      console.log(`deleted ${r.id}`);
    });
  });

  withDataDir(q.command('learn <id> <class>').description('teach the Bayes classifier a held message is spam or ham (it stays held)')).action(async (id: string, cls: string, o: D) => {
    await withQuarantine(o.dataDir, async (_svc, _db, _cfg, deps) => {
      const r = await learnQuarantined(deps, cliActor(), id, cls as 'spam' | 'ham');
      console.log(`learned ${r.id} as ${r.learned}`);
    });
  });

  withDataDir(
    q
      .command('purge')
      .description('remove messages held longer ago than the retention period (setting quarantine.retentionDays, default 30); the gateway also does this hourly')
      .option('--older-than <days>', 'use this many days instead of the setting'),
  ).action(async (o: D & { olderThan?: string }) => {
    await withQuarantine(o.dataDir, async (svc, db) => {
      const days = o.olderThan !== undefined ? Number(o.olderThan) : (await loadSettings(db))['quarantine.retentionDays'];
      if (!Number.isFinite(days) || days < 0) throw new Error(`--older-than must be a number of days, got "${o.olderThan}"`);
      const reindexed = await svc.reindexOrphans();
      if (reindexed) console.log(`indexed again ${reindexed} held message(s) whose index entry was lost`);
      const n = await svc.purge(days);
      console.log(`purged ${n} message(s) held more than ${days} day(s) ago`);
    });
  });
}
