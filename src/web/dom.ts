/**
 * Building the page without markup strings: every piece of data becomes a text node or
 * an attribute value, never HTML, so a task name like `<img onerror=…>` shows as text.
 */

type Child = Node | string | number | null | undefined | false | readonly Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
    return;
  }
  parent.appendChild(
    child instanceof Node ? child : document.createTextNode(String(child as string | number)),
  );
}

function apply(el: Element, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
}

/** An HTML element with attributes (`onclick: fn` adds a listener) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element, the same way. */
export function svg(tag: string, attrs: Attrs = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag) as SVGElement;
  apply(el, attrs);
  append(el, children);
  return el;
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** `12:03:04` today, else `2026-11-25 12:03`. */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  const d = new Date(ms);
  const iso = new Date(ms - d.getTimezoneOffset() * 60_000).toISOString();
  return new Date().toDateString() === d.toDateString()
    ? iso.slice(11, 19)
    : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** `1.2 s`, `3 m 05 s`, `2 h 10 m`. */
export function duration(ms: number | null): string {
  if (ms === null || ms < 0) return '–';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} m`;
}

/**
 * `1.5 GiB`, `143.9 MiB`, `64 MiB`: binary units, as memory is counted; one decimal unless
 * whole, as the CLI prints them (`formatBytes` in src/spec/sizes.ts).
 */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

/** A state badge: the colour comes from the stylesheet's `state-<name>` class. */
export function badge(state: string): HTMLElement {
  return h(
    'span',
    { class: `badge state-${state}`, 'data-state': state },
    state.replaceAll('_', ' '),
  );
}

/** A link to a route of this app. */
export function link(href: string, ...children: Child[]): HTMLAnchorElement {
  return h('a', { href: `#${href}` }, ...children);
}

/** `task` or `task[2]` for a map item. */
export function taskLabel(taskId: string, mapIndex: number): string {
  return mapIndex >= 0 ? `${taskId}[${mapIndex}]` : taskId;
}
