/** Buttons that ask for an action and say what became of it (recorded, or refused and why). */
import { ApiError, type Command, post } from './api.ts';
import { h, replace } from './dom.ts';

/** A status line for action results; `role=status` so screen readers announce it. */
export function notice(): HTMLElement {
  return h('p', { class: 'notice', role: 'status', 'aria-live': 'polite' });
}

/** Posts an action and writes the outcome into `out`. Resolves true if it was recorded. */
export async function act(
  out: HTMLElement,
  path: string,
  body: unknown,
  what: string,
): Promise<boolean> {
  out.className = 'notice';
  replace(out, `${what}…`);
  try {
    const { command } = await post<{ command: Command }>(path, body);
    out.className = 'notice ok';
    replace(
      out,
      `${what}: recorded as command #${command.id} (${command.state}); a scheduler applies it.`,
    );
    return true;
  } catch (e) {
    out.className = 'notice error';
    const code = e instanceof ApiError ? ` [${e.code}]` : '';
    replace(out, `${what} refused${code}: ${(e as Error).message}`);
    return false;
  }
}

/** A button that runs `act` when clicked. */
export function actionButton(
  label: string,
  out: HTMLElement,
  path: string,
  body: () => unknown,
  what: string,
  after?: () => void,
): HTMLButtonElement {
  return h(
    'button',
    {
      type: 'button',
      class: 'action',
      onclick: async () => {
        if (await act(out, path, body(), what)) after?.();
      },
    },
    label,
  );
}
