// GnuPG (Debian's gnupg) as the second opinion on our PGP/MIME: a throw-away GNUPGHOME
// per test file, unattended (--batch, no passphrases), its agent stopped on close.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GpgResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

export class Gpg {
  readonly home = mkdtempSync(join(tmpdir(), 'hermes-gpg-'));

  constructor() {
    // A low S2K count for passphrase-protected exports: the agent's default is tuned to
    // ~100 ms of native code, which openpgp.js takes seconds to repeat.
    writeFileSync(join(this.home, 'gpg-agent.conf'), 's2k-count 65536\n');
  }

  run(args: string[], input?: Buffer | string): GpgResult {
    const r = spawnSync('gpg', ['--homedir', this.home, '--batch', '--yes', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', '--trust-model', 'always', ...args], {
      input,
      timeout: 60_000,
    });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
  }

  /** Runs gpg and throws with its stderr when it fails. */
  ok(args: string[], input?: Buffer | string): Buffer {
    const r = this.run(args, input);
    if (r.status !== 0) throw new Error(`gpg ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  /** A new Ed25519/Curve25519 key without passphrase; returns its armoured public key. */
  generate(uid: string): string {
    this.ok(['--quick-generate-key', uid, 'future-default', 'default', 'never']);
    return this.ok(['--armor', '--export', uid]).toString();
  }

  import(armored: string): void {
    this.ok(['--import'], armored);
  }

  /** Writes a file into the home (data and detached signatures for --verify). */
  file(name: string, content: Buffer | string): string {
    const path = join(this.home, name);
    writeFileSync(path, content);
    return path;
  }

  close(): void {
    spawnSync('gpgconf', ['--homedir', this.home, '--kill', 'gpg-agent'], { timeout: 10_000 });
    rmSync(this.home, { recursive: true, force: true });
  }
}
