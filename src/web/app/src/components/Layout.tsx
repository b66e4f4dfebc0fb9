/** The frame around every signed-in page: skip link, navigation by capability, sign-out. */
import type { ReactNode } from 'react';
import { Link } from '../router';
import { useSession } from '../session';

export const NAV: Array<{ to: string; label: string; group?: string }> = [
  { to: '/partners/mixpanel', label: 'Mixpanel', group: 'Technology Partners' },
  { to: '/cohorts', label: 'Cohorts' },
  { to: '/segments', label: 'Segments' },
  { to: '/campaigns', label: 'Campaigns' },
  { to: '/canvases', label: 'Canvases' },
  { to: '/currents', label: 'Currents' },
  { to: '/users', label: 'Users' },
  { to: '/usage', label: 'Usage' },
];

export function Layout({ path, children }: { path: string; children: ReactNode }) {
  const session = useSession();
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/partners/mixpanel" className="brand">
          <span className="brand-mark" aria-hidden="true">
            ≈
          </span>
          Rivulet
        </Link>
        <nav aria-label="Main">
          <ul className="nav">
            {NAV.map((item) => {
              const active = path === item.to || path.startsWith(`${item.to}/`);
              return (
                <li key={item.to}>
                  {item.group ? <span className="nav-group">{item.group} ›</span> : null}
                  <Link to={item.to} aria-current={active ? 'page' : undefined} className={active ? 'active' : undefined}>
                    {item.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <button type="button" className="button button-ghost signout" onClick={() => void session.signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" className="main">
        {children}
      </main>
    </div>
  );
}
