// The signed-in user's own account: password and two-factor authentication.
import { useState } from 'preact/hooks';
import { post } from '../api.ts';
import { ErrorNotice, Field, PageHeader, useAction } from '../components.tsx';
import type { User } from '../session.ts';
import { PasswordForm } from './login.tsx';

interface Enrolment {
  secret: string;
  otpauthUrl: string;
  qrSvg: string;
}

export function AccountPage({ user, onChanged }: { user: User; onChanged: () => void }) {
  const [changed, setChanged] = useState(false);
  return (
    <>
      <PageHeader title="Your account" intro={`Signed in as ${user.username}, role ${user.role}${user.domains ? `, for ${user.domains.join(', ')}` : ''}.`} />
      <section class="card">
        <h2>Password</h2>
        {changed && <div class="notice ok">Password changed.</div>}
        <PasswordForm submitLabel="Change password" onChanged={() => setChanged(true)} />
      </section>
      <section class="card">
        <h2>Two-factor authentication</h2>
        {user.totpEnabled ? <p>Two-factor authentication is on. Ask an administrator to reset it if you lose your device and your recovery codes.</p> : <TotpEnrol onDone={onChanged} />}
      </section>
    </>
  );
}

function TotpEnrol({ onDone }: { onDone: () => void }) {
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const action = useAction();
  if (recovery) {
    return (
      <div class="stack">
        <div class="notice ok">Two-factor authentication is on.</div>
        <p>Keep these recovery codes somewhere safe. Each works once, instead of a code from your app. They are shown only now.</p>
        <ul class="codes" data-testid="recovery-codes">
          {recovery.map((c) => (
            <li key={c}>
              <code>{c}</code>
            </li>
          ))}
        </ul>
        <button onClick={onDone}>Done</button>
      </div>
    );
  }
  if (!enrolment) {
    return (
      <div class="stack">
        <p>Protect your account with a code from an authenticator app (FreeOTP, Aegis, Google Authenticator, 1Password…) at every sign-in.</p>
        {action.error !== null && <ErrorNotice error={action.error} />}
        <button disabled={action.busy} onClick={() => void action.run(async () => setEnrolment(await post<Enrolment>('/api/v1/me/totp')))}>
          Set up two-factor authentication
        </button>
      </div>
    );
  }
  // The QR code is the server's SVG shown as an image: it cannot run script that way.
  const qr = `data:image/svg+xml;base64,${btoa(enrolment.qrSvg)}`;
  return (
    <form
      class="stack"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(async () => setRecovery((await post<{ recoveryCodes: string[] }>('/api/v1/me/totp/confirm', { code })).recoveryCodes));
      }}
    >
      <p>Scan this code with your authenticator app, or enter the key by hand.</p>
      <img class="qr" src={qr} alt="QR code for your authenticator app" width={200} height={200} />
      <p>
        Key: <code data-testid="totp-secret">{enrolment.secret}</code>
      </p>
      {action.error !== null && <ErrorNotice error={action.error} />}
      <Field label="Code from the app">
        <input name="code" inputMode="numeric" autoComplete="one-time-code" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
      </Field>
      <button type="submit" disabled={action.busy}>
        Turn on
      </button>
    </form>
  );
}
