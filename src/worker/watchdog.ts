/**
 * Tasks die with their worker. The local executor's tasks outlive the process that
 * started them (so `baton run` can adopt them); a worker's must not: once a worker is gone
 * its attempts are declared lost and run again elsewhere, and a survivor would run beside
 * its retry. A small bash process of its own session follows the worker's task groups on
 * its stdin and, when that closes without a clean goodbye (the worker died, even by
 * SIGKILL), kills every group still running — only while its leader still carries the
 * attempt's token, so a recycled pid is never signalled.
 */
import { type ChildProcess, spawn } from 'node:child_process';

const SCRIPT = `
declare -A live
while read -r op pid token; do
  case $op in
    +) live[$pid]=$token ;;
    -) unset "live[$pid]" ;;
    bye) exit 0 ;;
  esac
done
for pid in "\${!live[@]}"; do
  if tr '\\0' '\\n' < "/proc/$pid/environ" 2>/dev/null | grep -qxF "BATON_ATTEMPT_TOKEN=\${live[$pid]}"; then
    kill -KILL -- "-$pid" 2>/dev/null
  fi
done
`;

export class Watchdog {
  readonly #child: ChildProcess;

  constructor() {
    this.#child = spawn('bash', ['-c', SCRIPT], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    this.#child.stdin?.on('error', () => {});
    this.#child.unref();
  }

  /** A task group started (its leader's pid and the attempt's token). */
  follow(pid: number, token: string): void {
    if (pid > 1 && /^[\w.-]+$/.test(token)) this.#child.stdin?.write(`+ ${pid} ${token}\n`);
  }

  /** A task group ended. */
  forget(pid: number): void {
    if (pid > 1) this.#child.stdin?.write(`- ${pid}\n`);
  }

  /** A clean stop: nothing is killed. */
  close(): void {
    this.#child.stdin?.end('bye\n');
  }
}
