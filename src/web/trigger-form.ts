/** The trigger form, generated from the flow's declared `params`. */

import { act } from './actions.ts';
import type { ParamSpec } from './api.ts';
import { h } from './dom.ts';

function input(name: string, p: ParamSpec): HTMLElement {
  const id = `param-${name}`;
  const initial = p.default === undefined ? '' : p.default;
  if (p.enum) {
    return h(
      'select',
      { id, name },
      p.enum.map((v) => h('option', { value: String(v), selected: v === initial }, String(v))),
    );
  }
  if (p.type === 'bool')
    return h('input', { id, name, type: 'checkbox', checked: initial === true });
  if (p.type === 'list' || p.type === 'map') {
    const ta = h('textarea', { id, name, rows: 2, placeholder: p.type === 'list' ? '[…]' : '{…}' });
    ta.value = initial === '' ? '' : JSON.stringify(initial);
    return ta;
  }
  const el = h('input', {
    id,
    name,
    type: p.type === 'int' || p.type === 'number' ? 'number' : 'text',
    step: p.type === 'int' ? 1 : p.type === 'number' ? 'any' : null,
    required: p.required,
  });
  el.value = String(initial);
  return el;
}

/** A form with one field per parameter; submitting records a trigger command. */
export function triggerForm(flow: string, params: Record<string, ParamSpec>, out: HTMLElement) {
  const fields = Object.entries(params).map(([name, p]) =>
    h(
      'label',
      { class: 'field' },
      h('span', {}, name, p.required ? ' *' : ''),
      input(name, p),
      h('small', { class: 'muted' }, p.description ?? p.type),
    ),
  );
  const form = h(
    'form',
    { class: 'trigger', 'data-flow': flow },
    fields.length ? fields : h('p', { class: 'muted' }, 'This flow declares no parameters.'),
    h('button', { type: 'submit' }, `Trigger ${flow}`),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const values: Record<string, unknown> = {};
    for (const [name, p] of Object.entries(params)) {
      const el = form.elements.namedItem(name) as HTMLInputElement | null;
      if (!el) continue;
      if (p.type === 'bool') values[name] = el.checked;
      else if (el.value !== '' || p.type === 'string') values[name] = el.value;
    }
    void act(
      out,
      `/api/flows/${encodeURIComponent(flow)}/trigger`,
      { params: values },
      `Trigger ${flow}`,
    );
  });
  return form;
}
