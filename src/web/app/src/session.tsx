/**
 * The signed-in state: asks the server at load whether the session cookie is valid (and for its
 * CSRF token), signs in with the admin password and out again. The cookie itself is HttpOnly; the
 * app only ever holds the CSRF token.
 */
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import type { Static } from 'typebox';
import * as Dashboard from '../../server/contract';
import { api, setCsrfToken, whenSignedOut } from './api';

type SessionState = 'checking' | 'signed-out' | 'signed-in';

const SessionInfo = Dashboard.SessionState;
type SessionInfo = Static<typeof SessionInfo>;

interface SessionApi {
  state: SessionState;
  /** Why the user is looking at the sign-in page, if not by choice. */
  notice: string | undefined;
  signIn(password: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionApi | undefined>(undefined);
export const SESSION_PATH = '/dashboard/api/session';

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>('checking');
  const [notice, setNotice] = useState<string | undefined>(undefined);

  const accept = useCallback((info: SessionInfo) => {
    setCsrfToken(info.signed_in ? info.csrf_token : undefined);
    setState(info.signed_in ? 'signed-in' : 'signed-out');
  }, []);

  useEffect(() => {
    whenSignedOut(() => {
      setCsrfToken(undefined);
      setNotice('Your session has ended. Sign in again to continue.');
      setState('signed-out');
    });
    api('GET', SESSION_PATH, SessionInfo)
      .then(accept)
      .catch(() => setState('signed-out'));
  }, [accept]);

  const value: SessionApi = {
    state,
    notice,
    async signIn(password) {
      accept(await api('POST', SESSION_PATH, SessionInfo, { password }));
      setNotice(undefined);
    },
    async signOut() {
      try {
        await api('DELETE', SESSION_PATH, SessionInfo);
      } finally {
        setNotice('You have signed out.');
        accept({ signed_in: false });
      }
    },
  };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionApi {
  const ctx = useContext(SessionContext);
  if (!ctx) throw new Error('useSession outside SessionProvider');
  return ctx;
}
