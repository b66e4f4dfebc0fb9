/** The sign-in form: the admin password from RIVULET_ADMIN_PASSWORD or printed at first start. */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiFailure } from '../api';
import { ErrorMessage } from '../components/feedback';
import { useSession } from '../session';

export function SignIn() {
  const session = useSession();
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const field = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = 'Sign in · Rivulet';
    field.current?.focus();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await session.signIn(password);
    } catch (err) {
      setError(err instanceof ApiFailure ? err : new ApiFailure(0, String(err)));
      setPassword('');
      field.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="signin">
      <form className="card signin-card" onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
        <p className="brand brand-large">
          <span className="brand-mark" aria-hidden="true">
            ≈
          </span>
          Rivulet
        </p>
        <h1 id="signin-title">Sign in to the dashboard</h1>
        {session.notice ? (
          <p className="notice notice-info" role="status">
            {session.notice}
          </p>
        ) : null}
        {error ? <ErrorMessage error={error.status === 401 ? 'Wrong password. Try again.' : error} /> : null}
        <label htmlFor="password">Admin password</label>
        <input
          id="password"
          ref={field}
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-describedby="password-help"
        />
        <p id="password-help" className="hint">
          The value of <code>RIVULET_ADMIN_PASSWORD</code>, or the password the server printed when it first started.
        </p>
        <button type="submit" className="button button-primary" disabled={busy || !password}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
