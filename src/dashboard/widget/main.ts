/**
 * The web chat widget (docs/widget.md), bundled by `npm run build` into dist/widget/widget.js and
 * served at `/widget.js`. On a shop's page:
 *
 *     <script src="https://graft.example/widget.js" data-token="…"></script>
 *
 * or `GraftChat.mount({ token, … })` from the page's own script. The chat page `/widget` loads it
 * with `data-page`: the chat fills the page, its token from the URL's fragment (`#token=…`).
 */
import type { MountedChat, MountOptions } from './chat-box.js';
import { mountChat } from './chat-box.js';

const script = document.currentScript instanceof HTMLScriptElement ? document.currentScript : null;
/** Where graft is: the directory widget.js was loaded from. */
const BASE = new URL('.', script?.src ?? location.href).href;

/** Mounts a chat box (see `MountOptions`); `url` defaults to where widget.js was loaded from. */
function mount(options: MountOptions): MountedChat {
  if (!options.token) throw new TypeError('GraftChat.mount needs a token');
  return mountChat({ ...options, url: options.url ?? BASE });
}

const TOKEN_KEY = 'graft.widgetToken';

/** The chat page: the token from `#token=…` (then dropped from the address bar, kept for reloads). */
function mountPage(element: HTMLElement): void {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromFragment) {
    sessionStorage.setItem(TOKEN_KEY, fromFragment);
    history.replaceState(null, '', location.pathname + location.search);
  }
  const token = fromFragment ?? sessionStorage.getItem(TOKEN_KEY);
  document.documentElement.style.height = '100%';
  document.body.style.height = '100%';
  document.body.style.margin = '0';
  element.style.display = 'block';
  element.style.height = '100%';
  if (!token) {
    element.textContent = 'This chat needs a token: open it from the shop’s site (/widget#token=…).';
    return;
  }
  mount({ token, element, layout: 'page', title: element.dataset.title ?? 'Chat with us' });
}

declare global {
  interface Window {
    GraftChat?: { mount: typeof mount };
  }
}

window.GraftChat = { mount };

if (script?.dataset.page !== undefined) {
  const start = () => mountPage(document.getElementById('graft-chat') ?? document.body);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
} else if (script?.dataset.token) {
  const { token, title } = script.dataset;
  const start = () => mount({ token, ...(title ? { title } : {}), open: script.dataset.open !== undefined });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}
