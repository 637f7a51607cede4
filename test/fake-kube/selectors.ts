/**
 * Label and field selectors as the API server reads them. Labels: `k=v`, `k==v`, `k!=v`,
 * `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma = AND. Fields: `=`, `==`, `!=` on the
 * pod fields the real server indexes; anything else is a 400, as there.
 */

export type Matcher = (obj: Pod) => boolean;

// biome-ignore lint/suspicious/noExplicitAny: a pod is whatever JSON the client sent.
export type Pod = any;

/** Thrown for a selector the server would refuse; the HTTP layer answers 400. */
export class BadSelector extends Error {}

/** Splits on commas that are not inside `( … )`. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}

/** Compiles a label selector; empty or absent matches everything. */
export function labelMatcher(selector: string | null): Matcher {
  if (!selector) return () => true;
  const checks = terms(selector).map((term): ((labels: Record<string, string>) => boolean) => {
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((v) => v.trim()));
      return op === 'in'
        ? (l) => key in l && values.has(l[key] as string)
        : (l) => !(key in l) || !values.has(l[key] as string);
    }
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
    }
    m = /^(!?)([\w./-]+)$/.exec(term);
    if (m) {
      const [, not, key] = m as unknown as [string, string, string];
      return not ? (l) => !(key in l) : (l) => key in l;
    }
    throw new BadSelector(`unable to parse requirement: ${term}`);
  });
  return (pod) => {
    const labels = pod.metadata?.labels ?? {};
    return checks.every((check) => check(labels));
  };
}

/** The pod fields the real API server can select on (pkg/registry/core/pod/strategy.go). */
const POD_FIELDS: Record<string, (pod: Pod) => string> = {
  'metadata.name': (p) => p.metadata?.name ?? '',
  'metadata.namespace': (p) => p.metadata?.namespace ?? '',
  'spec.nodeName': (p) => p.spec?.nodeName ?? '',
  'spec.restartPolicy': (p) => p.spec?.restartPolicy ?? '',
  'spec.schedulerName': (p) => p.spec?.schedulerName ?? '',
  'spec.serviceAccountName': (p) => p.spec?.serviceAccountName ?? '',
  'status.phase': (p) => p.status?.phase ?? '',
  'status.podIP': (p) => p.status?.podIP ?? '',
  'status.nominatedNodeName': (p) => p.status?.nominatedNodeName ?? '',
};

/** Compiles a field selector on pods. */
export function fieldMatcher(selector: string | null): Matcher {
  if (!selector) return () => true;
  const checks = terms(selector).map((term) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new BadSelector(`invalid field selector: ${term}`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    const read = POD_FIELDS[field];
    if (!read) throw new BadSelector(`field label not supported: ${field}`);
    return op === '!=' ? (p: Pod) => read(p) !== value : (p: Pod) => read(p) === value;
  });
  return (pod) => checks.every((check) => check(pod));
}
