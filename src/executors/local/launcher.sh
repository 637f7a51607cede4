# Baton launcher: a long-lived bash that starts tasks for one executor slot, so Node never
# forks per task. Run as `bash launcher.sh` with pipes on stdin/stdout; the protocol is
# described in launcher.ts. Each launcher is the parent ("wrapper") of one task at a time.
#
# Why one launcher per slot, not one launcher forking a wrapper subshell per task: every
# bash fork costs ~0.25 ms of CPU on a 2-core VM (page tables, copy-on-write faults);
# 2,000 `true` tasks at -j2 took 3.96 CPU s with a wrapper per task, 3.02 s with one
# wrapper per slot, 1.37 s for ninja. The task is the only fork left.
#
# In:  `<8 hex digits: byte length><record>`, record = bash assignments
#      i=taskRunId d=attemptDir l=logPath w=workdir k=token c=snippet, quoted by Node in
#      pure ASCII so `read -N` counts bytes in any locale. `read -N` takes one read(2);
#      `read -d ''` on a pipe reads one byte per syscall (87 µs per 220-byte record).
# Out: `S <id> <launcherPid> <taskPid>` once started, `F <id> <status>` after the exit
#      file is written, `E <id> cd|log` when the task could not start.

# Job control: the task gets a process group of its own (the launcher keeps the one Node
# gave it), so the whole task tree can be signalled without touching the launcher.
set -m
# The launcher outlives Node: its reports must fail with EPIPE rather than kill it before
# it writes an exit file. Tasks get SIGPIPE back (`trap - PIPE` below).
trap '' PIPE
# Errors and job notices would go to a pipe nobody reads once Node is gone.
exec 2>/dev/null

while read -r -N 8 n && [[ $n =~ ^[0-9a-f]{8}$ ]] && read -r -N "$((16#$n))" rec; do
  eval "$rec"
  if ! cd -- "$w"; then
    printf 'E cd\n' >"$d/exit"
    printf 'E %s cd\n' "$i"
    continue
  fi
  if ! exec 4>>"$l"; then
    printf 'E log\n' >"$d/exit"
    printf 'E %s log\n' "$i"
    continue
  fi
  # The snippet exports the task's environment and execs the command.
  { trap - PIPE; eval "$c"; } </dev/null >&4 2>&4 4>&- &
  t=$!
  exec 4>&-
  printf '%s %s %s\n' "$BASHPID" "$t" "$k" >"$d/pid"
  printf 'S %s %s %s\n' "$i" "$BASHPID" "$t"
  wait "$t"
  s=$?
  # A finished task leaves nothing behind: its background children die with it, before
  # the exit file says it is over.
  kill -KILL -- "-$t"
  printf '%s\n' "$s" >"$d/exit"
  printf 'F %s %s\n' "$i" "$s"
done
