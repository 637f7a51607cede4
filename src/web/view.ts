/** What every page of the app is: an element, and how it follows live changes. */
import type { Change } from './api.ts';

export interface View {
  readonly el: HTMLElement;
  /** Called when the server reports new events; re-reads what the view shows. */
  refresh?(change: Change): Promise<void>;
  /** Called when the user leaves the view (stop timers). */
  dispose?(): void;
}

/** The route the hash names: `#/runs/ID?x=1` → `['runs', 'ID']` and `{x: '1'}`. */
export interface RouteArgs {
  readonly parts: readonly string[];
  readonly query: URLSearchParams;
}
