#!/usr/bin/env node
// The `hermes` command. Each command's module (and the libraries it needs: mailauth,
// the pipeline, ...) is imported only when that command runs, so `hermes status` does
// not pay for loading the whole gateway; `--help` and unknown commands load them all.
import { Command } from 'commander';

type Register = (program: Command) => void;

/** Top-level command names, and the module that registers them. */
const COMMANDS: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Register> }> = [
  { names: ['init'], load: async () => (await import('./init-command.ts')).registerInit },
  { names: ['start'], load: async () => (await import('./start-command.ts')).registerStart },
  { names: ['status'], load: async () => (await import('./status-command.ts')).registerStatus },
  { names: ['domain', 'recipient', 'network', 'smarthost', 'settings'], load: async () => (await import('./policy-commands.ts')).registerPolicy },
  { names: ['queue'], load: async () => (await import('./queue-commands.ts')).registerQueue },
  { names: ['trace'], load: async () => (await import('./trace-command.ts')).registerTrace },
  { names: ['dkim', 'arc'], load: async () => (await import('./dkim-commands.ts')).registerDkim },
  { names: ['banner', 'disclaimer', 'signature', 'sender-group', 'preview'], load: async () => (await import('./body-commands.ts')).registerBodyChanges },
  { names: ['filter-policy'], load: async () => (await import('./filter-policy-commands.ts')).registerFilterPolicy },
  { names: ['lists'], load: async () => (await import('./lists-commands.ts')).registerLists },
  { names: ['bayes'], load: async () => (await import('./bayes-commands.ts')).registerBayes },
  { names: ['spam'], load: async () => (await import('./spam-commands.ts')).registerSpam },
  { names: ['quarantine'], load: async () => (await import('./quarantine-commands.ts')).registerQuarantine },
  { names: ['rules'], load: async () => (await import('./rules-commands.ts')).registerRules },
  { names: ['dnsbl'], load: async () => (await import('./dnsbl-commands.ts')).registerDnsbl },
  { names: ['filerules'], load: async () => (await import('./filerules-commands.ts')).registerFileRules },
  { names: ['malware'], load: async () => (await import('./malware-commands.ts')).registerMalware },
  { names: ['doctor'], load: async () => (await import('./doctor-command.ts')).registerDoctor },
  { names: ['dns'], load: async () => (await import('./dns-records-command.ts')).registerDnsRecords },
  { names: ['install-service'], load: async () => (await import('./install-service-command.ts')).registerInstallService },
  { names: ['external'], load: async () => (await import('./external-commands.ts')).registerExternal },
  { names: ['db'], load: async () => (await import('./db-command.ts')).registerDb },
  { names: ['selftest'], load: async () => (await import('./selftest-command.ts')).registerSelftest },
  { names: ['backup', 'restore'], load: async () => (await import('./backup-commands.ts')).registerBackup },
  { names: ['admin'], load: async () => (await import('./admin-commands.ts')).registerAdmin },
  { names: ['encryption'], load: async () => (await import('./encryption-commands.ts')).registerEncryption },
  { names: ['certs'], load: async () => (await import('./certs-commands.ts')).registerCerts },
  { names: ['app-password', 'sender-address'], load: async () => (await import('./submission-commands.ts')).registerSubmission },
  { names: ['tls-policy', 'mta-sts'], load: async () => (await import('./transport-commands.ts')).registerTransport },
  { names: ['digest', 'notify', 'portal'], load: async () => (await import('./portal-commands.ts')).registerPortal },
];

async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('hermes')
    .description('Hermes SEG: a secure email gateway in one service.\nStart with "hermes init", add your domains, then "hermes start".')
    .showHelpAfterError('(run with --help for usage)');
  const invoked = argv[2];
  const one = COMMANDS.find((c) => invoked !== undefined && c.names.includes(invoked));
  for (const entry of one ? [one] : COMMANDS) (await entry.load())(program);
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  console.error(`hermes: ${(err as Error).message}`);
  process.exit(1);
});
