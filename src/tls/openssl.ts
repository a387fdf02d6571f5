// Runs the openssl command with its input on stdin (keys never touch the disk). Used
// for what @peculiar/x509 cannot do here (its ASN.1 schema registry is split between
// two installed copies of @peculiar/asn1-schema, see keys/self-signed-cert.ts):
// making CSRs and reading PKCS#12 files.
import { spawn } from 'node:child_process';

export function openssl(args: string[], input: Buffer | string = '', env: Record<string, string> = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // openssl opens "/dev/stdin" as a file, which fails on the socket node gives a child
    // as stdin; through `cat |` it is a real pipe. The arguments pass as "$@", unquoted by no one.
    const child = spawn('sh', ['-c', 'cat | exec openssl "$@"', 'sh', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new Error(`cannot run openssl: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) return resolve(Buffer.concat(out));
      const why = Buffer.concat(err).toString('utf8').trim().split('\n')[0] ?? '';
      reject(new Error(`openssl ${args[0]} failed${why ? `: ${why}` : ''}`));
    });
    child.stdin.on('error', () => {}); // openssl may exit before reading everything
    child.stdin.end(input);
  });
}
