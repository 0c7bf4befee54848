import './style.css';
import { errorText, field, h, mount } from './dom';
import { resume, signIn, signOut, type Session } from './session';
import { renderLabel } from './label';
import { renderHome } from './home';

/** What a page leaves running (subscriptions, timers, claims), stopped when it is left. */
export type Cleanup = () => void | Promise<void>;

const main = document.getElementById('main')!;
const top = document.getElementById('top')!;
let session: Session | null = null;
let cleanup: Cleanup | null = null;

function signInPage(): void {
  const input = h('input', {
    type: 'password',
    name: 'apiKey',
    autocomplete: 'off',
    required: true,
    spellcheck: 'false',
  });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    {
      class: 'card narrow',
      'aria-labelledby': 'signin-title',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        error.textContent = '';
        signIn(input.value).then(
          (s) => {
            session = s;
            void route();
          },
          (e: unknown) => {
            error.textContent = `Sign-in failed: ${errorText(e)}`;
            input.focus();
          },
        );
      },
    },
    h('h1', { id: 'signin-title' }, 'Sign in to Quarry'),
    field('API key', input, 'Kept in this tab only (session storage); closing the tab forgets it.'),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    error,
  );
  mount(top, h('nav', { 'aria-label': 'Main' }, h('span', { class: 'brand' }, 'Quarry')));
  mount(main, form);
  input.focus();
}

function header(s: Session): void {
  const link = (href: string, text: string) =>
    h('a', { href, 'aria-current': location.hash === href ? 'page' : null }, text);
  mount(
    top,
    h(
      'nav',
      { 'aria-label': 'Main' },
      h('a', { class: 'brand', href: '#/' }, 'Quarry'),
      link('#/', 'Datasets'),
      s.viewer.role === 'ADMIN' ? link('#/admin', 'Admin') : null,
      h('span', { class: 'who' }, `${s.viewer.name} (${s.viewer.role.toLowerCase()})`),
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            void signOut(session).then(() => {
              session = null;
              location.hash = '#/';
              void route();
            });
          },
        },
        'Sign out',
      ),
    ),
  );
}

async function route(): Promise<void> {
  const stop = cleanup;
  cleanup = null;
  await stop?.();
  session ??= await resume();
  if (!session) return signInPage();
  header(session);
  const [, page, id] = location.hash.split('?')[0].replace(/^#\/?/, '/').split('/');
  try {
    if (page === 'label' && id) cleanup = await renderLabel(main, session, decodeURIComponent(id));
    else if (page === 'dashboard' && id) {
      // The dashboard's code (and its chart library) loads only when it is opened.
      const { renderDashboard } = await import('./dashboard');
      cleanup = await renderDashboard(main, session, decodeURIComponent(id));
    } else if (page === 'admin') {
      const { renderAdmin } = await import('./admin');
      cleanup = await renderAdmin(main, session);
    } else cleanup = await renderHome(main, session);
  } catch (e) {
    mount(main, h('p', { class: 'error', role: 'alert' }, errorText(e)));
  }
  document.title = `Quarry · ${main.querySelector('h1')?.textContent ?? ''}`;
}

window.addEventListener('hashchange', () => void route());
void route();
