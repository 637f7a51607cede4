/**
 * Talking to the server: JSON reads, token-carrying writes, and the live event stream.
 * The token lives in this tab's sessionStorage only.
 */

const TOKEN_KEY = 'baton.token';

export function getToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An error answer of the API, with its code (e.g. `api.unauthorized`) and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function answer<T>(response: Response): Promise<T> {
  const body = (await response.json().catch(() => null)) as
    | (T & { error?: { code: string; message: string } })
    | null;
  if (!response.ok) {
    const e = body?.error;
    throw new ApiError(response.status, e?.code ?? 'http', e?.message ?? `HTTP ${response.status}`);
  }
  return body as T;
}

/** GET an API path (`/api/...`) with query parameters left out when undefined. */
export async function get<T>(
  path: string,
  query: Record<string, string | number | undefined> = {},
): Promise<T> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return answer<T>(await fetch(qs ? `${path}?${qs}` : path));
}

/** POST an action with the token (if one is set). */
export async function post<T>(path: string, body: unknown = {}): Promise<T> {
  const token = getToken();
  return answer<T>(
    await fetch(path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    }),
  );
}

/** What the server says changed: the runs with new events, or null for "anything". */
export interface Change {
  readonly lastEventId: number;
  readonly runs: readonly string[] | null;
}

/** Follows `/api/events`; `onState` tells whether the stream is connected. */
export function live(onChange: (c: Change) => void, onState: (up: boolean) => void): EventSource {
  const source = new EventSource('/api/events');
  source.addEventListener('hello', () => onState(true));
  source.addEventListener('change', (e) =>
    onChange(JSON.parse((e as MessageEvent).data) as Change),
  );
  source.addEventListener('error', () => onState(false));
  return source;
}

// --- the API's shapes, as the views use them --------------------------------------------

export interface Run {
  id: string;
  flow: string;
  flowVersionId: number;
  state: string;
  trigger: string;
  params: Record<string, unknown>;
  logicalDate: number;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

export interface TaskRun {
  id: number;
  taskId: string;
  mapIndex: number;
  attempt: number;
  state: string;
  exitCode: number | null;
  reason: string | null;
  message: string | null;
  outputs: Record<string, unknown> | null;
  retryAt: number | null;
  queuedAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  /** The task as resolved when it launched (resources included). */
  resolved: { resources?: { cpu?: number; memoryBytes?: number } } | null;
  peakMemoryBytes: number | null;
  cpuMs: number | null;
  waitReason: { kind: string; message: string; since: number; until?: number } | null;
  /** Resources, timeout and fan-out the attempt was given, and the values that decided them. */
  sizing?: Record<
    string,
    { value: number; expression?: string; inputs?: Record<string, unknown> }
  > | null;
}

export interface ParamSpec {
  type: 'string' | 'int' | 'number' | 'bool' | 'list' | 'map';
  default?: unknown;
  enum?: (string | number | boolean)[];
  required: boolean;
  description?: string;
}

export interface Command {
  id: number;
  kind: string;
  flow: string;
  runId: string | null;
  state: string;
  message: string | null;
  createdAt: number;
}

export interface AssetEvent {
  id: number;
  asset: string;
  runId: string;
  at: number;
  metadata: Record<string, unknown>;
}
