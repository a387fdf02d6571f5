#!/usr/bin/env node
// The `hermes` command.
import { Command } from 'commander';
import { registerInit } from './init-command.ts';
import { registerStart } from './start-command.ts';
import { registerStatus } from './status-command.ts';
import { registerPolicy } from './policy-commands.ts';
import { registerQueue } from './queue-commands.ts';
import { registerTrace } from './trace-command.ts';
import { registerDkim } from './dkim-commands.ts';
import { registerBodyChanges } from './body-commands.ts';
import { registerFilterPolicy } from './filter-policy-commands.ts';
import { registerLists } from './lists-commands.ts';
import { registerBayes } from './bayes-commands.ts';
import { registerQuarantine } from './quarantine-commands.ts';
import { registerRules } from './rules-commands.ts';
import { registerDnsbl } from './dnsbl-commands.ts';
import { registerFileRules } from './filerules-commands.ts';
import { registerMalware } from './malware-commands.ts';
import { registerExternal } from './external-commands.ts';

const program = new Command();
program
  .name('hermes')
  .description('Hermes SEG: a secure email gateway in one service.\nStart with "hermes init", add your domains, then "hermes start".')
  .showHelpAfterError('(run with --help for usage)');

registerInit(program);
registerStart(program);
registerStatus(program);
registerPolicy(program);
registerQueue(program);
registerTrace(program);
registerDkim(program);
registerBodyChanges(program);
registerFilterPolicy(program);
registerLists(program);
registerBayes(program);
registerQuarantine(program);
registerRules(program);
registerDnsbl(program);
registerFileRules(program);
registerMalware(program);
registerExternal(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`hermes: ${(err as Error).message}`);
  process.exit(1);
});
