// `hermes bayes`: train and inspect the Bayes classifier held in the database. Learning
// takes files, directories (walked recursively) and mbox files (several messages split
// on "From " lines); it prints progress as it goes, since a corpus takes a while.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Db } from '../db/database.ts';
import { cliActor } from '../services/actor.ts';
import { bayesStats, clearBayes, expireBayes, learnMessages, type LearnAs, type LearnTally } from '../services/bayes-service.ts';
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

async function learnPaths(db: Db, paths: string[], cls: LearnAs, quiet: boolean): Promise<void> {
  const files = collectFiles(paths);
  // Count first (an mbox holds many), so progress can show a total.
  const messages = files.flatMap((f) => splitMessages(readFileSync(f)));
  const total = messages.length;
  const show = progress(quiet);
  const summary = (tally: LearnTally) => Object.entries(tally).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ') || 'nothing yet';
  const r = await learnMessages(db, cliActor(), cls, messages, {
    onProgress: (done, tally) => show(done, total, summary(tally)),
    onError: (i, err) => {
      if (!quiet) console.error(`cannot read message ${i + 1}: ${err.message}`);
    },
  });
  const { stats: st, ...tally } = r;
  show(total, total, summary(tally), true);
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
      const st = await bayesStats(db, cliActor());
      console.log(`spam messages  ${st.spamMessages} (needs ${st.minSpam})`);
      console.log(`ham messages   ${st.hamMessages} (needs ${st.minHam})`);
      console.log(`tokens         ${st.tokens}`);
      console.log(`scoring        ${st.ready ? 'yes' : 'no: not enough learned yet'}`);
    });
  });
  withDataDir(bayes.command('expire').description('remove tokens not used for a number of days').option('--days <n>', 'unused for this many days', '180')).action(
    async (o: D & { days: string }) => {
      const days = Number(o.days);
      await withDb(o.dataDir, async (db) => {
        const n = await expireBayes(db, cliActor(), days);
        console.log(`removed ${n} tokens unused for ${days} days`);
      });
    },
  );
  withDataDir(bayes.command('clear').description('forget everything the classifier learned').option('--yes', 'confirm')).action(async (o: D & { yes?: boolean }) => {
    if (!o.yes) throw new Error('this forgets every learned message; run again with --yes to confirm');
    await withDb(o.dataDir, async (db) => {
      await clearBayes(db, cliActor());
      console.log('Bayes classifier cleared');
    });
  });
}
