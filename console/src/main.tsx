// The admin console: signs in, then shows one page at a time under a navigation bar.
// Every page talks to the REST API; the server checks every permission again.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { ApiError, del, get, setCsrfToken, whenSignedOut } from './api.ts';
import { href, useRoute } from './router.ts';
import { userCan, type Permission, type SessionInfo, type User } from './session.ts';
import { LoginPage, PasswordChangePage } from './pages/login.tsx';
import { DashboardPage } from './pages/dashboard.tsx';
import { DomainsPage } from './pages/domains.tsx';
import { QuarantinePage } from './pages/quarantine.tsx';
import { TracePage } from './pages/trace.tsx';
import { QueuePage } from './pages/queue.tsx';
import { UsersPage } from './pages/users.tsx';
import { TokensPage } from './pages/tokens.tsx';
import { AuditPage } from './pages/audit.tsx';
import { AccountPage } from './pages/account.tsx';
import { SettingsPage } from './pages/settings.tsx';
import { PoliciesPage } from './pages/policies.tsx';
import { ListsPage } from './pages/lists.tsx';
import { RulesPage } from './pages/rules.tsx';
import { FileRulesPage } from './pages/filerules.tsx';
import { SpamChecksPage } from './pages/spam.tsx';
import { BodyChangesPage } from './pages/body.tsx';
import { DkimPage } from './pages/dkim.tsx';

interface NavItem {
  page: string;
  label: string;
  /** Shown to roles that may read this (the server's own permission table). */
  needs: Permission;
  /** Also shown for this permission (a page with two sections). */
  orNeeds?: Permission;
}

const NAV: Array<{ group: string; items: NavItem[] }> = [
  {
    group: 'Mail',
    items: [
      { page: 'dashboard', label: 'Dashboard', needs: 'dashboard.read' },
      { page: 'quarantine', label: 'Quarantine', needs: 'quarantine.read' },
      { page: 'trace', label: 'Message trace', needs: 'trace.read' },
      { page: 'queue', label: 'Queue', needs: 'queue.read' },
      { page: 'domains', label: 'Domains', needs: 'domains.read' },
    ],
  },
  {
    group: 'Filtering',
    items: [
      { page: 'policies', label: 'Filter policies', needs: 'policies.read' },
      { page: 'lists', label: 'Allow and block lists', needs: 'lists.read' },
      { page: 'rules', label: 'Message rules', needs: 'rules.read' },
      { page: 'filerules', label: 'File rules', needs: 'filerules.read' },
      { page: 'spam', label: 'Blocklists and Bayes', needs: 'dnsbl.read', orNeeds: 'bayes.read' },
      { page: 'body', label: 'Banners and disclaimers', needs: 'body.read' },
      { page: 'dkim', label: 'DKIM and ARC', needs: 'dkim.read' },
    ],
  },
  {
    group: 'Administration',
    items: [
      { page: 'settings', label: 'Settings', needs: 'settings.read' },
      { page: 'users', label: 'Users', needs: 'users.read' },
      { page: 'tokens', label: 'API tokens', needs: 'tokens.read' },
      { page: 'audit', label: 'Audit log', needs: 'audit.read' },
    ],
  },
];

const NAV_PAGES = new Set(NAV.flatMap((g) => g.items.map((n) => n.page)));

const shows = (user: User, n: NavItem) => userCan(user, n.needs) || (n.orNeeds !== undefined && userCan(user, n.orNeeds));

function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [navOpen, setNavOpen] = useState(false);
  const route = useRoute();

  const refresh = () =>
    get<SessionInfo>('/api/v1/session').then(
      (s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
      },
      (err: unknown) => {
        if (err instanceof ApiError && err.status === 401) setSession(null);
        else setSession(null);
      },
    );
  useEffect(() => {
    whenSignedOut(() => setSession(null));
    void refresh();
  }, []);
  useEffect(() => setNavOpen(false), [route.page, route.args.join('/')]);

  if (session === undefined) return <p class="muted center">Loading…</p>;
  if (session === null) return <LoginPage onSignedIn={(s) => { setCsrfToken(s.csrfToken); setSession(s); }} />;
  const user = session.user;
  if (user.mustChangePassword) return <PasswordChangePage user={user} onChanged={() => void refresh()} />;

  const signOut = async () => {
    await del('/api/v1/session').catch(() => {});
    setCsrfToken('');
    setSession(null);
  };
  const groups = NAV.map((g) => ({ group: g.group, items: g.items.filter((n) => shows(user, n)) })).filter((g) => g.items.length > 0);
  const allowed = new Set(groups.flatMap((g) => g.items.map((n) => n.page)));
  return (
    <div class="shell">
      <nav class={navOpen ? 'nav open' : 'nav'} aria-label="Main">
        <div class="brand">
          <a href={href('dashboard')}>Hermes SEG</a>
          <button class="nav-toggle" aria-label="Menu" aria-expanded={navOpen} onClick={() => setNavOpen(!navOpen)}>
            ☰
          </button>
        </div>
        <ul>
          {groups.map((g) => [
            groups.length > 1 && (
              <li key={g.group} class="group" aria-hidden="true">
                {g.group}
              </li>
            ),
            ...g.items.map((n) => (
              <li key={n.page}>
                <a href={href(n.page)} class={route.page === n.page ? 'active' : ''} aria-current={route.page === n.page ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            )),
          ])}
        </ul>
        <div class="who">
          <a href={href('account')} class={route.page === 'account' ? 'active' : ''}>
            {user.username} <span class="muted">({user.role})</span>
          </a>
          <button class="link" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </nav>
      <main>
        {user.mustEnrolTotp && route.page !== 'account' && (
          <div class="notice warn">Your role requires two-factor authentication. <a href={href('account')}>Set it up now</a> to keep using the console.</div>
        )}
        {!NAV_PAGES.has(route.page) || allowed.has(route.page) ? (
          <PageFor page={route.page} args={route.args} query={route.query} user={user} onAccountChanged={() => void refresh()} />
        ) : (
          <div class="empty">
            <h2>Not for your role</h2>
            <p>
              Your role ({user.role}) cannot see this page. Ask an administrator if you need it, or go to the <a href={href('dashboard')}>dashboard</a>.
            </p>
          </div>
        )}
      </main>
    </div>
  );
}

function PageFor({ page, args, query, user, onAccountChanged }: { page: string; args: string[]; query: URLSearchParams; user: User; onAccountChanged: () => void }) {
  switch (page) {
    case 'dashboard':
      return <DashboardPage user={user} />;
    case 'quarantine':
      return <QuarantinePage user={user} id={args[0]} />;
    case 'trace':
      return <TracePage id={args[0]} query={query} />;
    case 'queue':
      return <QueuePage user={user} />;
    case 'domains':
      return <DomainsPage user={user} />;
    case 'policies':
      return <PoliciesPage user={user} />;
    case 'lists':
      return <ListsPage user={user} />;
    case 'rules':
      return <RulesPage user={user} />;
    case 'filerules':
      return <FileRulesPage user={user} name={args[0]} />;
    case 'spam':
      return <SpamChecksPage user={user} />;
    case 'body':
      return <BodyChangesPage user={user} kind={args[0]} />;
    case 'dkim':
      return <DkimPage user={user} />;
    case 'settings':
      return <SettingsPage user={user} />;
    case 'users':
      return <UsersPage user={user} />;
    case 'tokens':
      return <TokensPage user={user} />;
    case 'audit':
      return <AuditPage />;
    case 'account':
      return <AccountPage user={user} onChanged={onAccountChanged} />;
    default:
      return (
        <div class="empty">
          <h2>No such page</h2>
          <p>
            The address does not name a console page. Go to the <a href={href('dashboard')}>dashboard</a>.
          </p>
        </div>
      );
  }
}

render(<App />, document.getElementById('app')!);
