/**
 * The dashboard's entry point: the top bar (navigation, live status, API token), a
 * hash router over the views, and live refresh from the server's event stream.
 */
import { type Change, getToken, live, setToken } from './api.ts';
import { assetsView, assetView } from './assets-view.ts';
import { h, replace } from './dom.ts';
import { flowsView } from './flows-view.ts';
import { gridView } from './grid-view.ts';
import { healthView } from './health-view.ts';
import { logView } from './log-view.ts';
import { runView } from './run-view.ts';
import { sourceView } from './source-view.ts';
import type { RouteArgs, View } from './view.ts';

const main = document.getElementById('view') as HTMLElement;
const top = document.getElementById('top') as HTMLElement;

function parseHash(): RouteArgs {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path = '/', qs = ''] = raw.split('?', 2);
  return {
    parts: path.split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(qs),
  };
}

function pick(args: RouteArgs): Promise<View> {
  const [a, , c] = args.parts;
  if (a === undefined || a === 'flows') {
    if (a === 'flows' && c === 'source') return sourceView(args);
    return flowsView();
  }
  if (a === 'grid') return gridView(args);
  if (a === 'runs' && c === 'log') return logView(args);
  if (a === 'runs') return runView(args);
  if (a === 'assets') return args.parts.length > 1 ? assetView(args) : assetsView();
  if (a === 'health') return healthView();
  return Promise.resolve({ el: h('p', {}, 'No such page. ', h('a', { href: '#/' }, 'Flows')) });
}

let current: View | undefined;
let generation = 0;

async function show(): Promise<void> {
  const mine = ++generation;
  current?.dispose?.();
  current = undefined;
  const args = parseHash();
  for (const a of top.querySelectorAll('nav a'))
    a.classList.toggle('here', a.getAttribute('href') === `#/${args.parts[0] ?? ''}`);
  try {
    const view = await pick(args);
    if (mine !== generation) {
      view.dispose?.();
      return;
    }
    current = view;
    replace(main, view.el);
  } catch (e) {
    if (mine === generation) replace(main, h('p', { class: 'notice error' }, (e as Error).message));
  }
}

// Refreshes are serialised: a change that arrives during one schedules exactly one more.
let refreshing = false;
let pendingChange: Change | undefined;
async function onChange(change: Change): Promise<void> {
  if (refreshing) {
    pendingChange =
      pendingChange && pendingChange.runs !== null && change.runs !== null
        ? { lastEventId: change.lastEventId, runs: [...pendingChange.runs, ...change.runs] }
        : { lastEventId: change.lastEventId, runs: null };
    return;
  }
  refreshing = true;
  try {
    await current?.refresh?.(change);
  } catch {
    // The next change or a reload shows the error; a failed refresh keeps the old view.
  } finally {
    refreshing = false;
  }
  const next = pendingChange;
  pendingChange = undefined;
  if (next) await onChange(next);
}

function topBar(): void {
  const dot = h('span', { id: 'live', class: 'live down', title: 'live updates' }, 'offline');
  const token = h('input', {
    id: 'token',
    type: 'password',
    placeholder: 'API token for actions',
    autocomplete: 'off',
    'aria-label': 'API token',
  });
  token.value = getToken();
  token.addEventListener('input', () => setToken(token.value.trim()));
  const tokenForm = h(
    'form',
    { class: 'token', onsubmit: (e: Event) => e.preventDefault() },
    token,
  );
  replace(
    top,
    h('a', { class: 'brand', href: '#/' }, 'Baton'),
    h(
      'nav',
      {},
      h('a', { href: '#/' }, 'Flows'),
      h('a', { href: '#/grid' }, 'Runs'),
      h('a', { href: '#/assets' }, 'Assets'),
      h('a', { href: '#/health' }, 'Health'),
    ),
    h('span', { class: 'spacer' }),
    dot,
    tokenForm,
  );
  live(
    (c) => void onChange(c),
    (up) => {
      dot.className = up ? 'live up' : 'live down';
      replace(dot, up ? 'live' : 'offline');
    },
  );
}

topBar();
window.addEventListener('hashchange', () => void show());
void show();
