// `hermes spam rules status`: the SpamAssassin rule files the spam engine runs, what
// was loaded, and which rules were skipped and why (by name).
import type { Command } from 'commander';
import { cliActor } from '../services/actor.ts';
import { spamRulesStatus } from '../services/spam-rules-service.ts';
import { withDataDir, withDb } from './context.ts';

export function registerSpam(program: Command): void {
  const spam = program.command('spam').description('the built-in spam engine');
  const rules = spam.command('rules').description('SpamAssassin rule files run by the spam engine');
  withDataDir(rules.command('status').description('rule directories, rules loaded and skipped (with the reason and the names)').option('--json', 'print JSON').option('--all', 'list every skipped rule name')).action(
    async (o: { dataDir: string; json?: boolean; all?: boolean }) => {
      await withDb(o.dataDir, async (db) => {
        const st = await spamRulesStatus(db, cliActor());
        if (o.json) {
          console.log(JSON.stringify(st, null, 2));
          return;
        }
        console.log(`SpamAssassin rules  ${st.enabled ? 'on' : 'off'} (spam.saRules)`);
        console.log(`directories         ${st.dirs.join(', ') || '(none)'}${st.defaults ? ' (defaults; set spam.saRulesDirs to choose)' : ''}`);
        if (st.inactive) {
          console.log(`not running         ${st.inactive}`);
          return;
        }
        console.log(`files read          ${st.files}`);
        console.log(`rules               ${st.defined} defined, ${st.loaded} loaded, ${st.defined - st.loaded} skipped`);
        console.log(`loaded by type      ${Object.entries(st.byType).map(([k, n]) => `${k} ${n}`).join(', ')}`);
        console.log(`running             ${st.active.bayesOff} before Bayes scores (score set 0), ${st.active.bayesOn} after (score set 2)`);
        console.log(`compiled in         ${st.compileMs} ms`);
        if (st.skipped.length) {
          console.log('\nskipped, by reason:');
          for (const s of st.skipped) {
            const names = o.all || s.rules.length <= 6 ? s.rules.join(' ') : `${s.rules.slice(0, 6).join(' ')} ... (+${s.rules.length - 6}; --all lists them)`;
            console.log(`  ${String(s.count).padStart(4)}  ${s.reason}: ${names}`);
          }
        }
        if (st.approximations.length) {
          console.log('\napproximated (possessive/atomic constructs run as ordinary ones):');
          for (const a of st.approximations) console.log(`  ${String(a.count).padStart(4)}  ${a.construct}: ${a.rules.join(' ')}`);
        }
        for (const w of st.warnings) console.log(`warning: ${w}`);
      });
    },
  );
}
