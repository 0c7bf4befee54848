/** A tiny DOM builder: no framework, nothing to download but what the page uses. */

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/**
 * `h('button', { class: 'primary', onclick: go }, 'Go')`. Attributes named `on…` become
 * listeners; `false`, `null` and `undefined` attributes are left out; strings are text (never
 * parsed as HTML).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'value' && 'value' in el) {
      (el as HTMLInputElement).value = String(value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Shows a short message in the page's live region (read out by screen readers). */
export function notice(text: string, kind: 'info' | 'error' = 'info'): void {
  const box = document.getElementById('notices');
  if (!box) return;
  const item = h('p', { class: `notice ${kind}` }, text);
  box.appendChild(item);
  setTimeout(() => item.remove(), kind === 'error' ? 10_000 : 5_000);
  while (box.childElementCount > 4) box.firstElementChild?.remove();
}

/** A labelled form field. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  let hintEl: HTMLElement | null = null;
  if (hint) {
    hintEl = h('small', { id: `${id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** Formats a share 0..1 as a percentage. */
export function pct(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined ? '–' : `${(x * 100).toFixed(digits)}%`;
}

/** A message from anything thrown. */
export function errorText(e: unknown): string {
  if (e && typeof e === 'object' && 'message' in e) {
    const code = (e as { code?: string }).code;
    return `${code ? code + ': ' : ''}${String((e as { message: unknown }).message)}`;
  }
  return String(e);
}
