// The ReplaceTags plugin: `replace_tag A (?:[aA@4]|...)` and friends, substituted into
// the patterns of the rules named by `replace_rules` before they are compiled. Done
// as Mail::SpamAssassin::Plugin::ReplaceTags does it: <pre X>, <post X> and <inter X>
// in a pattern name the text to put before each tag, after each tag, and between
// adjacent tags; tags may contain tags (a few passes).
import type { SaConfig } from './config.ts';

function escapeRe(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, (c) => `\\${c}`);
}

export function replaceTags(pattern: string, conf: SaConfig): string {
  const start = escapeRe(conf.replaceStart);
  const end = escapeRe(conf.replaceEnd);
  let re = pattern;
  for (let pass = 0; pass < 5; pass++) {
    let again = false;
    let pre: string | undefined;
    let post: string | undefined;
    let inter: string | undefined;
    re = re.replace(new RegExp(`${start}pre (.+?)${end}`), (_, n: string) => ((pre = n), ''));
    re = re.replace(new RegExp(`${start}post (.+?)${end}`), (_, n: string) => ((post = n), ''));
    re = re.replace(new RegExp(`${start}inter (.+?)${end}`), (_, n: string) => ((inter = n), ''));
    const parts = re.split(/(<[^<>]+>)/);
    // Perl's split drops trailing empty fields.
    while (parts.length && parts[parts.length - 1] === '') parts.pop();
    const tagRe = new RegExp(`(${start}.+?${end})`);
    const preText = pre ? conf.replacePre.get(pre) : undefined;
    const postText = post ? conf.replacePost.get(post) : undefined;
    const interText = inter ? conf.replaceInter.get(inter) : undefined;
    for (let i = 0; i < parts.length; i++) {
      if (preText) parts[i] = parts[i]!.replace(tagRe, (t) => preText + t);
      if (postText) parts[i] = parts[i]!.replace(new RegExp(tagRe.source, 'g'), (t) => t + postText);
      if (interText && parts[i] === '') parts[i] = interText;
      const m = new RegExp(`${start}(.+?)${end}`).exec(parts[i]!);
      if (m) {
        const replacement = conf.replaceTags.get(m[1]!);
        if (replacement) {
          parts[i] = parts[i]!.split(`${conf.replaceStart}${m[1]}${conf.replaceEnd}`).join(replacement);
          if (/<[^>]+>/.test(replacement)) again = true;
        }
      }
    }
    re = parts.join('');
    if (!again) break;
  }
  return re;
}
