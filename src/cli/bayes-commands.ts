// `hermes bayes`: train and inspect the Bayes classifier held in the database. Learning
// takes files, directories (walked recursively) and mbox files (several messages split
// on "From " lines); it prints progress as it goes, since a corpus takes a while.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SqlBayesStore } from '../db/repos/bayes-store.ts';
import { loadSettings } from '../config/settings.ts';
import { Bayes, type SpamClass } from '../pipeline/filter/spam/index.ts';
import { forgetRaw, learnRaw } from '../pipeline/filter/spam-learn.ts';
import type { Db } from '../db/database.ts';
import { withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

/** Every file under the given paths (directories recursively, sorted; dot files skipped). */
export function collectFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) if (!e.startsWith('.')) walk(join(p, e));
    } else if (st.isFile()) out.push(p);
  };
  for (const p of paths) walk(p);
  return out;
}

/**
 * The messages in a file: one, or several for an mbox. A "From " line at the start of a
 * file, and each one after an empty line, begins a message; ">From " is unescaped.
 */
export function splitMessages(data: Buffer): Buffer[] {
  const text = data.toString('latin1');
  if (!text.startsWith('From ')) return [data];
  const parts = text.split(/(?:^|\r?\n\r?\n)From [^\n]*\n/).filter((p, i) => i > 0 || p.length > 0);
  return parts
    .map((p) => p.replace(/^>(>*From )/gm, '$1'))
    .filter((p) => p.trim().length > 0)
    .map((p) => Buffer.from(p.endsWith('\n') ? p : `${p}\n`, 'latin1'));
}

async function bayesFor(db: Db): Promise<{ bayes: Bayes; store: SqlBayesStore }> {
  const s = await loadSettings(db);
  const store = new SqlBayesStore(db);
  return { bayes: new Bayes(store, { minSpam: s['spam.bayesMinSpam'], minHam: s['spam.bayesMinHam'] }), store };
}

function progress(quiet: boolean) {
  const t0 = Date.now();
  let last = 0;
  return (done: number, total: number, summary: string, final = false) => {
    if (quiet && !final) return;
    const now = Date.now();
    if (!final && (now - last < 1000 || done === total)) return;
    last = now;
    const rate = done / Math.max(0.001, (now - t0) / 1000);
    console.log(`${done}/${total} messages  ${summary}  (${rate.toFixed(0)} msg/s)`);
  };
}

async function learnPaths(db: Db, paths: string[], cls: SpamClass | 'forget', quiet: boolean): Promise<void> {
  const { bayes } = await bayesFor(db);
  const files = collectFiles(paths);
  const messages: Array<() => Buffer> = [];
  // Count first (an mbox holds many), so progress can show a total.
  let total = 0;
  const perFile = files.map((f) => {
    const msgs = splitMessages(readFileSync(f));
    total += msgs.length;
    return msgs;
  });
  for (const m of perFile.flat()) messages.push(() => m);
  const tally = { learned: 0, relearned: 0, unchanged: 0, forgotten: 0, unknown: 0, failed: 0 };
  const show = progress(quiet);
  const summary = () => Object.entries(tally).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ') || 'nothing yet';
  let done = 0;
  for (const get of messages) {
    try {
      const raw = get();
      if (cls === 'forget') tally[(await forgetRaw(bayes, raw)) ? 'forgotten' : 'unknown']++;
      else tally[await learnRaw(bayes, raw, cls)]++;
    } catch (err) {
      tally.failed++;
      if (!quiet) console.error(`cannot read message ${done + 1}: ${(err as Error).message}`);
    }
    done++;
    show(done, total, summary());
  }
  show(done, total, summary(), true);
  const st = await bayes.stats();
  console.log(`Bayes now: ${st.spamMessages} spam, ${st.hamMessages} ham, ${st.tokens} tokens; ${st.ready ? 'scoring' : `scoring starts at ${st.minSpam} spam and ${st.minHam} ham`}`);
}

export function registerBayes(program: Command): void {
  const bayes = program.command('bayes').description('the Bayes spam classifier: learn, forget, statistics');
  withDataDir(
    bayes
      .command('learn <paths...>')
      .description('learn messages as spam or ham: files, directories (recursively) or mbox files')
      .option('--spam', 'the messages are spam')
      .option('--ham', 'the messages are ham (wanted mail)')
      .option('-q, --quiet', 'print only the summary'),
  ).action(async (paths: string[], o: D & { spam?: boolean; ham?: boolean; quiet?: boolean }) => {
    if (!!o.spam === !!o.ham) throw new Error('say what the messages are: --spam or --ham');
    await withDb(o.dataDir, (db) => learnPaths(db, paths, o.spam ? 'spam' : 'ham', !!o.quiet));
  });
  withDataDir(
    bayes.command('forget <paths...>').description('undo the learning of these messages (files, directories, mbox)').option('-q, --quiet', 'print only the summary'),
  ).action(async (paths: string[], o: D & { quiet?: boolean }) => {
    await withDb(o.dataDir, (db) => learnPaths(db, paths, 'forget', !!o.quiet));
  });
  withDataDir(bayes.command('stats').description('messages learned per class, tokens, and whether the classifier scores yet')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      const st = await (await bayesFor(db)).bayes.stats();
      console.log(`spam messages  ${st.spamMessages} (needs ${st.minSpam})`);
      console.log(`ham messages   ${st.hamMessages} (needs ${st.minHam})`);
      console.log(`tokens         ${st.tokens}`);
      console.log(`scoring        ${st.ready ? 'yes' : 'no: not enough learned yet'}`);
    });
  });
  withDataDir(bayes.command('expire').description('remove tokens not used for a number of days').option('--days <n>', 'unused for this many days', '180')).action(
    async (o: D & { days: string }) => {
      const days = Number(o.days);
      if (!Number.isFinite(days) || days < 1) throw new Error('--days must be a number of days (1 or more)');
      await withDb(o.dataDir, async (db) => {
        const n = await new SqlBayesStore(db).expire(new Date(Date.now() - days * 86_400_000));
        console.log(`removed ${n} tokens unused for ${days} days`);
      });
    },
  );
  withDataDir(bayes.command('clear').description('forget everything the classifier learned').option('--yes', 'confirm')).action(async (o: D & { yes?: boolean }) => {
    if (!o.yes) throw new Error('this forgets every learned message; run again with --yes to confirm');
    await withDb(o.dataDir, async (db) => {
      await new SqlBayesStore(db).clear();
      console.log('Bayes classifier cleared');
    });
  });
}
