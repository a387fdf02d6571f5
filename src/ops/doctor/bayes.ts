// How far the Bayes classifier is from scoring, and how to train it. Until it has learned
// spam.bayesMinSpam spam and spam.bayesMinHam ham it gives no score, and a fresh install
// is judged by its rules alone (the SpamAssassin rules in their no-Bayes score set);
// autolearn feeds it what those rules find clearly spam or clearly ham.
import { SqlBayesStore } from '../../db/repos/bayes-store.ts';
import { Bayes, type BayesStats } from '../../pipeline/filter/spam/index.ts';
import type { Settings } from '../../config/settings.ts';
import { finding, type DoctorCheck, type Finding } from './finding.ts';

/** The doctor's (and the dashboard's) words for the classifier's state. */
export function bayesFinding(st: BayesStats, s: Settings): Finding {
  if (!s['spam.bayes']) return finding('bayes', '', 'warn', 'the Bayes classifier is off (spam.bayes=false): only the rules score', 'Turn it on with "hermes settings set spam.bayes true".');
  const text = `learned ${st.spamMessages} spam and ${st.hamMessages} ham (${st.tokens} tokens)`;
  if (st.ready) return finding('bayes', '', 'ok', `${text}: it scores every message`);
  const spamLeft = Math.max(0, st.minSpam - st.spamMessages);
  const hamLeft = Math.max(0, st.minHam - st.hamMessages);
  const auto = s['spam.autolearn']
    ? ` Autolearn is on: mail the rules score ${s['spam.autolearnSpamScore']} or more is learned as spam, ${s['spam.autolearnHamScore']} or less as ham.`
    : ' Autolearn is off (spam.autolearn).';
  return finding(
    'bayes',
    '',
    'warn',
    `${text}: not scoring yet, ${spamLeft} spam and ${hamLeft} ham to go (it needs ${st.minSpam} and ${st.minHam}); until then only the rules score.${auto}`,
    'Train it from mail you have: "hermes bayes learn --spam PATH" and "hermes bayes learn --ham PATH" (a file, a directory or maildir, an mbox); ' +
      'from the quarantine, "hermes quarantine release-and-learn-ham <id>" for wanted mail held wrongly and "hermes quarantine learn <id> spam" for held spam (or the console\'s Quarantine page).',
  );
}

export const bayesCheck: DoctorCheck = async ({ db, settings }) => {
  const bayes = new Bayes(new SqlBayesStore(db), { minSpam: settings['spam.bayesMinSpam'], minHam: settings['spam.bayesMinHam'] });
  return [bayesFinding(await bayes.stats(), settings)];
};
