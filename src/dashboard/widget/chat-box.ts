import type { ChatMessage, ChatReply, ConnectionState, TokenSource } from './client.js';
import { ChatClient } from './client.js';
import { STYLE } from './style.js';

export interface MountOptions {
  /** The customer's token, signed by the shop's backend; or a function that fetches a fresh one. */
  token: TokenSource;
  /** graft's base URL (default: where widget.js was loaded from). */
  url?: string;
  /** Where to put the chat (default: a new element at the end of the body). */
  element?: HTMLElement;
  /** `floating`: a button in the corner that opens the chat (default); `page`: the chat fills `element`. */
  layout?: 'floating' | 'page';
  /** The chat's title (default "Chat with us"). */
  title?: string;
  /** Open the floating chat at once. */
  open?: boolean;
}

export interface MountedChat {
  /** The element the chat lives in (its shadow root is open). */
  element: HTMLElement;
  /** Closes the connection and removes the chat. */
  unmount(): void;
}

const STATUS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Online',
  reconnecting: 'Reconnecting…',
  ended: 'Chat ended',
};

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) if (value !== undefined) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function newMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `w_${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Styles in a shadow root: a constructed sheet (no inline `<style>`, which a strict CSP refuses). */
function adoptStyle(root: ShadowRoot): void {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(STYLE);
  root.adoptedStyleSheets = [sheet];
}

/**
 * Renders the chat box in a shadow root of `element` and connects it: the transcript, the typing
 * dots, a composer (Enter sends, Shift+Enter is a new line), and the connection's state.
 */
export function mountChat(options: MountOptions & { url: string }): MountedChat {
  const layout = options.layout ?? 'floating';
  const host = options.element ?? document.body.appendChild(el('div'));
  host.dataset.layout = layout;
  const root = host.shadowRoot ?? host.attachShadow({ mode: 'open' });
  adoptStyle(root);
  const title = options.title ?? 'Chat with us';
  const panel = el('section', { class: 'panel', 'aria-label': title });
  const status = el('span', { class: 'status', role: 'status' }, STATUS.connecting);
  const header = el('header');
  header.append(el('strong', {}, title), status);
  const log = el('ol', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const typing = el('div', { class: 'typing', 'data-typing': '', hidden: '' });
  typing.append(el('span'), el('span'), el('span'), el('span', { class: 'sr', role: 'status' }, 'Typing…'));
  const form = el('form');
  const input = el('textarea', { 'aria-label': 'Your message', rows: '1', placeholder: 'Write a message…' });
  const send = el('button', { type: 'submit' }, 'Send');
  form.append(input, send);
  panel.append(header, log, typing, form);
  root.replaceChildren(panel);
  if (layout === 'floating') {
    const launcher = el('button', { class: 'launcher', 'aria-expanded': 'false' }, title);
    const toggle = (open: boolean) => {
      panel.hidden = !open;
      launcher.setAttribute('aria-expanded', String(open));
      if (open) input.focus();
    };
    launcher.addEventListener('click', () => toggle(panel.hidden));
    root.append(launcher);
    toggle(options.open ?? false);
  }

  const shown = new Map<string, HTMLLIElement>();
  const scroll = () => (log.scrollTop = log.scrollHeight);
  const add = (key: string, item: HTMLLIElement) => {
    shown.set(key, item);
    log.append(item);
    scroll();
  };
  const client = new ChatClient(
    { base: options.url, token: options.token },
    {
      message(message: ChatMessage) {
        const mine = shown.get(`m:${message.id}`);
        if (mine) return void mine.classList.remove('pending', 'failed');
        add(`m:${message.id}`, el('li', { class: 'customer', 'data-message-id': message.id }, message.text));
      },
      reply(reply: ChatReply) {
        if (shown.has(`r:${reply.id}`)) return;
        const item = el('li', { class: reply.from, 'data-reply-id': reply.id });
        if (reply.from === 'staff') item.append(el('span', { class: 'from' }, 'Staff'));
        item.append(reply.text);
        add(`r:${reply.id}`, item);
      },
      typing(on: boolean) {
        typing.hidden = !on;
        if (on) scroll();
      },
      connection(state: ConnectionState, detail?: string) {
        host.dataset.connection = state;
        status.textContent = state === 'ended' && detail ? `${STATUS.ended}: ${detail}` : STATUS[state];
        send.disabled = state === 'ended';
      },
    },
  );
  const deliver = (id: string, text: string, item: HTMLLIElement) => {
    item.className = 'customer pending';
    client.send(id, text).then(
      () => item.classList.remove('pending'),
      () => {
        item.className = 'customer failed';
        const retry = el('button', { class: 'retry', type: 'button' }, 'Not sent: retry');
        retry.addEventListener('click', () => {
          retry.remove();
          deliver(id, text, item);
        });
        item.append(retry);
      },
    );
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text === '' || send.disabled) return;
    input.value = '';
    const id = newMessageId();
    const item = el('li', { class: 'customer pending', 'data-message-id': id }, text);
    add(`m:${id}`, item);
    deliver(id, text, item);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  client.start();
  return {
    element: host,
    unmount() {
      client.stop();
      root.replaceChildren();
      if (!options.element) host.remove();
    },
  };
}
