// Learning one message (raw bytes) as spam or ham, for the CLI, the quarantine's
// release-and-learn, and the API. Our own X-Spam headers are removed first, so the
// classifier learns the message, not our earlier verdict on it.
import PostalMime from '../mime/postal-mime.ts';
import type { Bayes, LearnOutcome, SpamClass } from './spam/index.ts';
import { stripSpamHeaders } from '../decide/tagging.ts';

export async function learnRaw(bayes: Bayes, raw: Buffer, cls: SpamClass): Promise<LearnOutcome> {
  const clean = stripSpamHeaders(raw);
  return bayes.learn({ raw: clean, parsed: await PostalMime.parse(clean) }, cls);
}

export async function forgetRaw(bayes: Bayes, raw: Buffer): Promise<boolean> {
  const clean = stripSpamHeaders(raw);
  return bayes.forget({ raw: clean, parsed: await PostalMime.parse(clean) });
}
