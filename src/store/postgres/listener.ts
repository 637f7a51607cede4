/**
 * `LISTEN` on a dedicated connection (a pooled one would hand the subscription to whoever
 * takes it next). A dropped connection is reopened with backoff, and `onNotify('')` is
 * called once it is back: notifications sent meanwhile are lost, so the listener re-reads.
 */
import pg from 'pg';
import type { Subscription } from '../store.ts';

export async function listen(
  url: string,
  channel: string,
  onNotify: (payload: string) => void,
): Promise<Subscription> {
  let client: pg.Client | null = null;
  let closed = false;
  let delayMs = 100;
  let timer: NodeJS.Timeout | null = null;

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, application_name: 'baton-listen' });
    c.on('notification', (n) => {
      if (n.channel === channel) onNotify(n.payload ?? '');
    });
    c.on('error', () => reconnect(c));
    c.on('end', () => reconnect(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (e) {
      await c.end().catch(() => {});
      throw e;
    }
    client = c;
    delayMs = 100;
  };

  const reconnect = (broken: pg.Client): void => {
    if (closed || client !== broken) return;
    client = null;
    broken.end().catch(() => {});
    const retry = (): void => {
      timer = null;
      if (closed) return;
      connect().then(
        () => onNotify(''),
        () => {
          delayMs = Math.min(delayMs * 2, 5000);
          timer = setTimeout(retry, delayMs);
        },
      );
    };
    timer = setTimeout(retry, delayMs);
  };

  await connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
