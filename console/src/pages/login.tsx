// Signing in (with a second step for the TOTP code when the account has 2FA), and the
// password change the first administrator must make before anything else.
import { useState } from 'preact/hooks';
import { ApiError, post } from '../api.ts';
import { ErrorNotice, Field, useAction } from '../components.tsx';
import type { SessionInfo, User } from '../session.ts';

export function LoginPage({ onSignedIn }: { onSignedIn: (s: SessionInfo) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [needTotp, setNeedTotp] = useState(false);
  const action = useAction();

  const submit = async (e: Event) => {
    e.preventDefault();
    action.clear();
    try {
      const s = await post<SessionInfo>('/api/v1/session', { username, password, ...(needTotp ? { totp } : {}) });
      onSignedIn(s);
    } catch (err) {
      // The server asks for the second factor with details.totp = "required".
      if (err instanceof ApiError && err.details.totp === 'required' && !needTotp) setNeedTotp(true);
      else await action.run(() => Promise.reject(err));
    }
  };

  return (
    <div class="login">
      <form class="card" onSubmit={(e) => void submit(e)}>
        <h1>Hermes SEG</h1>
        <p class="muted">Sign in to the gateway console.</p>
        {action.error !== null && <ErrorNotice error={action.error} />}
        {!needTotp ? (
          <>
            <Field label="User name">
              <input name="username" autoComplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
            </Field>
            <Field label="Password">
              <input name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
            </Field>
          </>
        ) : (
          <Field label="Authentication code" hint="The 6-digit code from your authenticator app, or one of your recovery codes.">
            <input name="totp" inputMode="numeric" autoComplete="one-time-code" required autoFocus value={totp} onInput={(e) => setTotp(e.currentTarget.value)} />
          </Field>
        )}
        <button type="submit" disabled={action.busy}>
          {needTotp ? 'Verify' : 'Sign in'}
        </button>
        <p class="hint">Locked out? An administrator can run <code>hermes admin unlock USER</code> on the gateway.</p>
      </form>
    </div>
  );
}

export function PasswordForm({ onChanged, submitLabel }: { onChanged: () => void; submitLabel: string }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (next !== again) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    if (await action.run(() => post('/api/v1/me/password', { currentPassword: current, newPassword: next }))) onChanged();
  };
  return (
    <form class="stack" onSubmit={(e) => void submit(e)}>
      {action.error !== null && <ErrorNotice error={action.error} />}
      {mismatch && <div class="notice error">The two new passwords differ. Type the same password twice.</div>}
      <Field label="Current password">
        <input name="currentPassword" type="password" autoComplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
      </Field>
      <Field label="New password" hint="At least 12 characters, not your user name.">
        <input name="newPassword" type="password" autoComplete="new-password" required minLength={12} value={next} onInput={(e) => setNext(e.currentTarget.value)} />
      </Field>
      <Field label="New password again">
        <input name="newPasswordAgain" type="password" autoComplete="new-password" required value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
      </Field>
      <button type="submit" disabled={action.busy}>
        {submitLabel}
      </button>
    </form>
  );
}

export function PasswordChangePage({ user, onChanged }: { user: User; onChanged: () => void }) {
  return (
    <div class="login">
      <div class="card">
        <h1>Choose your password</h1>
        <p class="muted">
          Welcome, {user.username}. The password you signed in with was generated for the first sign-in only; choose your own to continue.
        </p>
        <PasswordForm onChanged={onChanged} submitLabel="Change password and continue" />
      </div>
    </div>
  );
}
