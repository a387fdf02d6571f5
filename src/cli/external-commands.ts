// The external spam engines from the command line: are the configured spamd and Rspamd
// answering, and what do they say about a message file. They are configured with
// settings: hermes settings set external.spamd '"127.0.0.1:783"',
// hermes settings set external.rspamd '"http://127.0.0.1:11333"'.
import { readInputFile } from './read-input.ts';
import type { Command } from 'commander';
import PostalMime from '../pipeline/mime/postal-mime.ts';
import { loadSettings, type Settings } from '../config/settings.ts';
import { SpamEngine } from '../pipeline/filter/spam/index.ts';
import { externalChecks, parseRspamdUrl, parseSpamdAddress } from '../pipeline/filter/external/index.ts';
import { cliActor } from '../services/actor.ts';
import { externalStatus } from '../services/engines-service.ts';
import { withDataDir, withDb } from './context.ts';

type D = { dataDir: string };
type Overrides = { spamd?: string; rspamd?: string };

/** The stored settings with --spamd / --rspamd applied (checked as the settings would be). */
function effective(s: Settings, o: Overrides): Settings {
  if (o.spamd !== undefined) parseSpamdAddress(o.spamd);
  if (o.rspamd !== undefined) parseRspamdUrl(o.rspamd);
  return { ...s, ...(o.spamd !== undefined ? { 'external.spamd': o.spamd } : {}), ...(o.rspamd !== undefined ? { 'external.rspamd': o.rspamd } : {}) };
}

const onErrorText = (v: 'ignore' | 'tempfail') => (v === 'tempfail' ? 'mail gets 451 while it is down' : 'mail is scored without it while it is down');

export function registerExternal(program: Command): void {
  const ext = program
    .command('external')
    .description('optional external spam engines whose scores merge into the spam score: SpamAssassin (spamd) and Rspamd (settings external.*)');

  withDataDir(
    ext
      .command('status')
      .description('check that the configured spamd (PING) and Rspamd (/ping) answer; exit code 1 when one does not')
      .option('--spamd <address>', 'check this spamd instead: "host:port" or "unix:/path"')
      .option('--rspamd <url>', 'check this Rspamd instead: "http://host:port"'),
  ).action(async (o: D & Overrides) => {
    await withDb(o.dataDir, async (db) => {
      let down = 0;
      for (const st of await externalStatus(db, cliActor(), o)) {
        const setting = `external.${st.engine}`;
        if (!st.configured) {
          console.log(`${st.engine}: not configured (${setting} is null)`);
          continue;
        }
        const how = `weight ${st.weight}, timeout ${st.timeoutMs} ms, onError=${st.onError}`;
        if (st.answering) console.log(`${st.engine} ${st.address}: ${st.version} (${how})`);
        else {
          down++;
          console.log(`${st.engine} ${st.address}: NOT ANSWERING: ${st.error}; ${onErrorText(st.onError as 'ignore' | 'tempfail')} (${how})`);
        }
      }
      if (down) process.exitCode = 1;
    });
  });

  withDataDir(
    ext
      .command('scan <files...>')
      .description('send message files (.eml) to the configured external engines and print the symbols they add to the score')
      .option('--spamd <address>', 'use this spamd instead: "host:port" or "unix:/path"')
      .option('--rspamd <url>', 'use this Rspamd instead: "http://host:port"')
      .option('--from <address>', 'envelope sender to pass along', '')
      .option('--ip <address>', 'client IP to pass along', '127.0.0.1'),
  ).action(async (files: string[], o: D & Overrides & { from: string; ip: string }) => {
    await withDb(o.dataDir, async (db, cfg) => {
      const s = effective(await loadSettings(db), o);
      if (!s['external.spamd'] && !s['external.rspamd']) throw new Error('no external engine configured (set external.spamd or external.rspamd, or pass --spamd / --rspamd)');
      const engine = new SpamEngine({ checks: externalChecks({ settings: () => s, hostname: cfg.hostname }) });
      for (const file of files) {
        const raw = readInputFile(file);
        const r = await engine.scan({ raw, parsed: await PostalMime.parse(raw), envelope: { mailFrom: o.from, rcptTo: [], clientIp: o.ip } });
        console.log(`${file}: ${r.score}`);
        for (const sym of r.symbols) console.log(`  ${sym.name}=${sym.score}  ${sym.description}`);
        for (const e of r.errors) console.log(`  FAILED ${e.check}: ${e.error}`);
        if (r.errors.length) process.exitCode = 1;
      }
    });
  });
}
