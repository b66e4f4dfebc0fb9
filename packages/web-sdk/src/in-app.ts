/**
 * In-app messages (docs/reference/sdk.md#in-app-messages). The SDK fetches the messages waiting for
 * the current user, each with its trigger event names; when the page logs one of those custom
 * events, the first such message is shown as a modal or a slide-up. It is plain DOM inside a
 * shadow root, so the page's styles do not reach it and its styles do not leak. Showing it logs an
 * impression; a button logs a click (with the button's id) and then follows the button's http(s)
 * URL, if any; the close control just closes. One message at a time; each is shown once.
 */
import { getForDevice, storedIds, type SdkCore } from './core.js';

export interface InAppButton {
  id: string;
  text: string;
  url: string | null;
}

export interface InAppMessage {
  id: string;
  layout: 'modal' | 'slideup';
  header: string | null;
  body: string;
  image_url: string | null;
  buttons: InAppButton[];
  trigger_events: string[];
  expires_at: string;
}

const STYLE = `
:host { all: initial; }
.overlay { position: fixed; inset: 0; background: rgba(0, 0, 0, 0.45); display: flex; align-items: center; justify-content: center; z-index: 2147483647; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; }
.slideup { position: fixed; left: 16px; right: 16px; bottom: 16px; z-index: 2147483647; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; animation: rv-up 0.25s ease-out; }
@keyframes rv-up { from { transform: translateY(120%); } to { transform: none; } }
.box { position: relative; background: #fff; border-radius: 12px; box-shadow: 0 10px 40px rgba(0, 0, 0, 0.25); padding: 20px; max-width: 420px; width: calc(100% - 48px); box-sizing: border-box; }
.slideup .box { max-width: 640px; margin: 0 auto; width: 100%; display: flex; gap: 12px; align-items: center; }
.close { position: absolute; top: 6px; right: 8px; border: 0; background: none; font-size: 22px; line-height: 1; cursor: pointer; color: #666; }
img { max-width: 100%; border-radius: 8px; display: block; }
.slideup img { max-width: 64px; }
h2 { font-size: 18px; margin: 0 0 8px; }
p { margin: 0 0 12px; white-space: pre-wrap; }
.buttons { display: flex; gap: 8px; justify-content: flex-end; }
.buttons button { border: 0; border-radius: 8px; padding: 8px 14px; font: inherit; cursor: pointer; background: #ececf0; color: #1d1d1f; }
.buttons button:last-child { background: #3b5bdb; color: #fff; }
`;

const safeUrl = (url: string | null): string | undefined => (url && /^https?:\/\//i.test(url) ? url : undefined);

export function createInApp(core: SdkCore) {
  let messages: InAppMessage[] = [];
  let showing: HTMLElement | undefined;
  const shown = storedIds(() => core.storage(), 'rivulet.shown_in_app');

  function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function close(): void {
    showing?.remove();
    showing = undefined;
  }

  function display(m: InAppMessage): void {
    const host = el('div');
    host.setAttribute('data-rivulet-in-app', m.id);
    const root = host.attachShadow({ mode: 'open' });
    const style = el('style');
    style.textContent = STYLE;
    const outer = el('div', m.layout === 'modal' ? 'overlay' : 'slideup');
    outer.setAttribute('role', 'dialog');
    outer.setAttribute('aria-modal', m.layout === 'modal' ? 'true' : 'false');
    const box = el('div', 'box');
    const x = el('button', 'close', '×');
    x.setAttribute('aria-label', 'Close');
    x.addEventListener('click', close);
    box.append(x);
    if (m.image_url && safeUrl(m.image_url)) {
      const img = el('img');
      img.src = m.image_url;
      img.alt = '';
      box.append(img);
    }
    const text = el('div');
    if (m.header) text.append(el('h2', undefined, m.header));
    text.append(el('p', undefined, m.body));
    if (m.buttons.length) {
      const row = el('div', 'buttons');
      for (const b of m.buttons) {
        const button = el('button', undefined, b.text);
        button.setAttribute('data-button-id', b.id);
        button.addEventListener('click', () => {
          core.log('in_app_message_click', { message_id: m.id, button_id: b.id });
          close();
          const url = safeUrl(b.url);
          // The click is uploaded before the page may leave; a page of the same origin uploads it otherwise.
          void core.flush(true).finally(() => {
            if (url) location.assign(url);
          });
        });
        row.append(button);
      }
      text.append(row);
    }
    box.append(text);
    outer.append(box);
    if (m.layout === 'modal') outer.addEventListener('click', (e) => e.target === outer && close());
    root.append(style, outer);
    document.body.append(host);
    showing = host;
    shown.add(m.id);
    core.log('in_app_message_impression', { message_id: m.id });
  }

  return {
    /** Fetches the messages waiting for the current user (done at init and after a change of user). */
    async refreshInAppMessages(): Promise<InAppMessage[]> {
      const body = (await getForDevice(core, 'in_app_messages')) as { messages?: InAppMessage[] };
      messages = (body.messages ?? []).filter((m) => !shown.has(m.id));
      return messages;
    },
    /** Called for every custom event the page logs: shows the first waiting message it triggers. */
    onEvent(name: string): void {
      if (showing || typeof document === 'undefined') return;
      const now = Date.now();
      const m = messages.find((x) => x.trigger_events.includes(name) && !shown.has(x.id) && Date.parse(x.expires_at) > now);
      if (!m) return;
      messages = messages.filter((x) => x.id !== m.id);
      display(m);
    },
    /** Closes the message on screen, if any. */
    closeInAppMessage: close,
  };
}
