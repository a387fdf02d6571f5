// What OpenPGP and PDF encryption cost per message, at 10 KiB and 1 MiB:
//   pgp-encrypt       PGP/MIME to one recipient key (Curve25519), not signed
//   pgp-encrypt+sign  the same, signed inside by the sender's Ed25519 key (the default)
//   pgp-sign          multipart/signed only (the 'sign' policy)
//   pdf               the AES-256 PDF (pdfkit), its cover mail and the password notice
// The 10 KiB message is text; the 1 MiB one is a short text with a 1 MiB attachment
// (base64 in the message), as real large mail is. Wall and CPU ms per message, best of
// the rounds, in one process on the event loop (as the encrypt stage runs).
//
//   npm run bench:encryption-pgp-pdf [-- --rounds 3]
import { randomBytes } from 'node:crypto';
import { encryptPgpMime, signPgpMime } from '../src/pipeline/encrypt/pgp-mime.ts';
import { generatePgpKey, readPgpKey, readPrivateKey } from '../src/pipeline/encrypt/pgp-keys.ts';
import { renderMessagePdf } from '../src/pipeline/encrypt/pdf-render.ts';
import { buildCoverMail, buildPasswordNotice, generatePdfPassword } from '../src/pipeline/encrypt/pdf-mail.ts';

const ROUNDS = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 3) || 3;

function textMessage(bytes: number): Buffer {
  const line = 'The quarterly figures are attached; revenue is up and costs are flat this time.\r\n';
  const body = line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
  return Buffer.from(`From: Alice <alice@ours.example>\r\nTo: bob@partner.example\r\nSubject: figures\r\nMessage-ID: <b@ours.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${body}`);
}

function attachmentMessage(bytes: number): Buffer {
  const b64 = randomBytes(Math.floor((bytes * 3) / 4)).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    `From: Alice <alice@ours.example>\r\nTo: bob@partner.example\r\nSubject: figures\r\nMessage-ID: <b@ours.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n--b\r\nContent-Type: application/octet-stream; name="data.bin"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="data.bin"\r\n\r\n${b64}\r\n--b--\r\n`,
  );
}

async function measure(iterations: number, fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  await fn(); // warm-up
  let best = { wall: Infinity, cpu: Infinity };
  for (let r = 0; r < ROUNDS; r++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) await fn();
    const wall = (performance.now() - t0) / iterations;
    const c = process.cpuUsage(cpu0);
    const cpu = (c.user + c.system) / 1000 / iterations;
    if (wall < best.wall) best = { wall, cpu };
  }
  return best;
}

const recipient = await readPgpKey((await generatePgpKey({ address: 'bob@partner.example' })).publicArmored);
const sender = await readPrivateKey((await generatePgpKey({ address: 'alice@ours.example' })).privateArmored);

const sizes = [
  { label: '10 KiB', message: textMessage(10 * 1024), iterations: 40 },
  { label: '1 MiB', message: attachmentMessage(1024 * 1024), iterations: 4 },
];
const cases: Array<{ name: string; run: (m: Buffer) => Promise<unknown> }> = [
  { name: 'pgp-encrypt', run: (m) => encryptPgpMime(m, { encryptionKeys: [recipient] }) },
  { name: 'pgp-encrypt+sign', run: (m) => encryptPgpMime(m, { encryptionKeys: [recipient], signingKey: sender }) },
  { name: 'pgp-sign', run: (m) => signPgpMime(m, { signingKey: sender }) },
  {
    name: 'pdf',
    run: async (m) => {
      const password = generatePdfPassword();
      const { pdf, subject } = await renderMessagePdf(m, { userPassword: password });
      await buildCoverMail({ original: m, pdf, subject, senderAddress: 'alice@ours.example' });
      await buildPasswordNotice({ from: 'postmaster@gw', to: 'alice@ours.example', recipients: ['bob@partner.example'], subject, password, messageId: null });
    },
  },
];

console.log(`node ${process.version}, best of ${ROUNDS} rounds; ms per message (wall / CPU)`);
console.log(['case', ...sizes.map((s) => `${s.label} (${(s.message.length / 1024).toFixed(0)} KiB on the wire)`)].join('\t'));
for (const c of cases) {
  const cells: string[] = [];
  for (const s of sizes) {
    const r = await measure(s.iterations, () => c.run(s.message));
    cells.push(`${r.wall.toFixed(1)} / ${r.cpu.toFixed(1)}`);
  }
  console.log([c.name, ...cells].join('\t'));
}
