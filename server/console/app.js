import { api, can, currentSession, logOut, onUnauthenticated, resumeSession } from './api.js';
import { loginForm } from './pages/login.js';
import { PAGE_MODULES } from './pages/index.js';
import { alertBox, el, heading, toast } from './ui.js';

// The console's shell: the session, the navigation (only the pages the session's role may open), and a
// hash router — #/<page>/<params…>, e.g. #/campaigns/welcome. A page module's default export is
//   { id, title, permission, render(main, ctx) }
// where permission is a key of server/auth/permissions.ts (null: any logged-in user) and ctx is
//   { api, session, navigate(hash), params: string[], query: URLSearchParams, can(permission), signal: AbortSignal }.
// render may return (or resolve to) a function, called when the user leaves the page; `signal` is
// aborted then too (stop polling, cancel fetches). Focus moves to the page's <h1> on each navigation.

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const dialog = document.getElementById('login-dialog');

/** The loaded pages, in navigation order. */
const pages = [];
let leave = null;
let firstRender = true;

function navigate(hash) {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

/** #/<page>/<params…>?<query>: the page's ID, its path parameters and its query. */
function parseHash() {
  const [path, search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [pageId = '', ...params] = path.split('/').map(decodeURIComponent);
  return { pageId, params: params.filter((p) => p !== ''), query: new URLSearchParams(search) };
}

function renderNav() {
  const session = currentSession();
  who.replaceChildren();
  if (session === null) {
    nav.replaceChildren();
    return;
  }
  const { pageId } = parseHash();
  nav.replaceChildren(el('ul', {}, pages.filter((p) => can(p.permission)).map((p) =>
    el('li', {}, el('a', { href: `#/${p.id}`, 'aria-current': p.id === pageId ? 'page' : null, text: p.title })))));
  who.append(
    el('span', { class: 'who-name', text: `${session.user.username} (${session.user.role})` }),
    el('button', { type: 'button', class: 'secondary', text: 'Log out', onclick: async () => {
      try {
        await logOut();
      } catch (error) {
        toast(`Logging out failed: ${error.message}`, 'error');
      }
      navigate('#/');
    } }));
}

async function route() {
  if (leave !== null) {
    const done = leave;
    leave = null;
    try {
      done();
    } catch (error) {
      console.error(error);
    }
  }
  const controller = new AbortController();
  let cleanup = null;
  leave = () => {
    controller.abort();
    if (typeof cleanup === 'function') cleanup();
  };
  const session = currentSession();
  renderNav();
  // Each navigation renders into a view of its own: a page still loading when the user moves on
  // writes into a view no longer on screen.
  const view = el('div', { class: 'view' });
  main.replaceChildren(view);
  if (session === null) {
    document.title = 'Log in — Vicino console';
    view.append(heading('Log in to the Vicino console'), loginForm({ onLoggedIn: () => route() }));
  } else {
    const { pageId, params, query } = parseHash();
    const visible = pages.filter((p) => can(p.permission));
    const page = pageId === '' ? visible[0] : pages.find((p) => p.id === pageId);
    if (page === undefined) {
      document.title = 'Not found — Vicino console';
      view.append(heading('Page not found'), el('p', {}, `There is no page "${pageId}". `, el('a', { href: '#/', text: 'Go to the start page' })));
    } else if (!can(page.permission)) {
      document.title = `${page.title} — Vicino console`;
      view.append(heading(page.title), alertBox(`Your role (${session.user.role}) does not have the permission ${page.permission} that this page needs.`));
    } else {
      document.title = `${page.title} — Vicino console`;
      const ctx = { api, session, navigate, params, query, can, signal: controller.signal };
      try {
        cleanup = await page.render(view, ctx);
      } catch (error) {
        if (!controller.signal.aborted) {
          if (!view.querySelector('h1')) view.append(heading(page.title));
          view.append(alertBox(error?.message ?? String(error)));
        }
      }
      if (controller.signal.aborted && typeof cleanup === 'function') cleanup();
    }
  }
  if (controller.signal.aborted) return;
  if (!firstRender) view.querySelector('h1')?.focus();
  firstRender = false;
}

const sentence = (text) => {
  const core = text.replace(/;.*$/, '').replace(/\.$/, '');
  return core.charAt(0).toUpperCase() + core.slice(1);
};

// One login dialog for every request that met an expired session: they all retry once it closes.
let pendingLogin = null;
function reauthenticate(reason) {
  pendingLogin ??= new Promise((resolve) => {
    const form = loginForm({
      // The API's reason without its own advice ("session expired; log in again" → "Session expired").
      message: `${sentence(reason)}. Log in again to carry on: nothing you typed is lost.`,
      onLoggedIn: () => {
        dialog.close('ok');
      },
    });
    dialog.replaceChildren(el('h2', { id: 'login-dialog-title', text: 'Log in again' }), form,
      el('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => dialog.close('cancel') }));
    dialog.addEventListener('close', () => {
      pendingLogin = null;
      renderNav();
      resolve(dialog.returnValue === 'ok');
    }, { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    dialog.querySelector('input')?.focus();
  });
  return pendingLogin;
}

async function loadPages() {
  const results = await Promise.allSettled(PAGE_MODULES.map((entry) => entry.load()));
  results.forEach((result, i) => {
    if (result.status === 'fulfilled' && result.value.default?.id) pages.push(result.value.default);
    else {
      const reason = result.status === 'rejected' ? result.reason?.message ?? String(result.reason) : 'no default export with an id';
      console.error(`console page ${PAGE_MODULES[i].file} failed to load: ${reason}`);
      toast(`The page ${PAGE_MODULES[i].file} failed to load: ${reason}`, 'error');
    }
  });
}

async function start() {
  document.getElementById('skip-link').addEventListener('click', (event) => {
    // The hash is the router's: move focus without changing it.
    event.preventDefault();
    main.focus();
  });
  onUnauthenticated(reauthenticate);
  window.addEventListener('hashchange', () => void route());
  await loadPages();
  try {
    await resumeSession();
  } catch (error) {
    toast(`Could not reach the server: ${error.message}`, 'error');
  }
  await route();
  document.body.dataset.ready = 'true';
}

void start();
