# Baton launcher: a long-lived bash that starts tasks for one executor slot, so Node never
# forks per task. Run as `bash launcher.sh <journalDir> <id>` with pipes on stdin/stdout;
# the protocol is described in launcher.ts. Each launcher is the parent ("wrapper") of one
# task at a time.
#
# Why one launcher per slot, not one launcher forking a wrapper subshell per task: every
# bash fork costs ~0.25 ms of CPU on a 2-core VM (page tables, copy-on-write faults);
# 2,000 `true` tasks at -j2 took 3.96 CPU s with a wrapper per task, 3.02 s with one
# wrapper per slot, 1.37 s for ninja. The task is the only fork left.
#
# Why a journal per launcher, not a pid file and an exit file per attempt: creating a file
# costs tens to hundreds of µs on ext4; appending a line to a file already open costs one
# write(2). Every line is one builtin `printf` to fd 3 (O_APPEND, well under PIPE_BUF), so
# lines never tear; F and E lines are written before the matching report on stdout.
#
# In:  `<8 hex digits: byte length><record>`, record = bash assignments
#      i=taskRunId l=logPath w=workdir k=token c=snippet, quoted by Node in pure ASCII so
#      `read -N` counts bytes in any locale. `read -N` takes one read(2); `read -d ''` on a
#      pipe reads one byte per syscall (87 µs per 220-byte record).
# Journal (`<journalDir>/<launcherPid>.<id>.journal`):
#      `S <token> <launcherPid> <taskPid>` written by the task's own process before it
#      execs the command, so an attempt without an S line never ran (the stdout S may
#      overtake it by microseconds; nothing reads the journal while Node and the launcher
#      both live); `F <token> <status>` once the task's group is killed; `E <token> cd|log`
#      when the task could not start.
# Out: `S <id> <launcherPid> <taskPid>` once forked; after the F line, bash's `times`
#      (two lines `<user> <sys>` as `0m0.004s`: the launcher's, then its children's), then
#      `F <id> <status>`; `E <id> cd|log` after the E line.

# Job control: the task gets a process group of its own (the launcher keeps the one Node
# gave it), so the whole task tree can be signalled without touching the launcher.
set -m
# The launcher outlives Node: its reports must fail with EPIPE rather than kill it before
# it journals the end. Tasks get SIGPIPE back (`trap - PIPE` below).
trap '' PIPE
# Errors and job notices would go to a pipe nobody reads once Node is gone.
exec 2>/dev/null
# Opened once: no file is created per task. Without a journal nothing may start (Node
# reports the launcher's exit).
exec 3>>"$1/$$.$2.journal" || exit 1

# The length is checked with a glob, not a regex: `=~` compiles its regex on every call,
# and the pages that allocates are written after each fork, each write a copy-on-write
# fault: 208 faults a task with it, 180 without (every task's own exec takes ~63), and
# 16.4 vs 14.9 ms of CPU a task on this 2-core VM, where a fault costs ~80 µs.
while read -r -N 8 n && [[ $n == [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f] ]] &&
  read -r -N "$((16#$n))" rec; do
  eval "$rec"
  if ! cd -- "$w"; then
    printf 'E %s cd\n' "$k" >&3
    printf 'E %s cd\n' "$i"
    continue
  fi
  if ! exec 4>>"$l"; then
    printf 'E %s log\n' "$k" >&3
    printf 'E %s log\n' "$i"
    continue
  fi
  # The task's process journals its own start, then execs the command (the snippet exports
  # the task's environment and execs): a start that cannot be journaled runs nothing.
  {
    trap - PIPE
    if ! printf 'S %s %s %s\n' "$k" "$$" "$BASHPID" >&3; then
      printf 'baton: cannot write the launcher journal in %s\n' "$1" >&2
      exit 126
    fi
    exec 3>&-
    eval "$c"
  } </dev/null >&4 2>&4 4>&- &
  t=$!
  exec 4>&-
  printf 'S %s %s %s\n' "$i" "$$" "$t"
  wait "$t"
  s=$?
  printf 'F %s %s\n' "$k" "$s" >&3
  # The CPU time of everything the launcher has reaped (its second line: children's user
  # and system time, from wait4's accounting); Node subtracts the previous report's.
  times
  # A finished task leaves nothing behind: Node kills what is left of its process group
  # when it reads this line. Only when Node is gone (the report fails) does the launcher
  # do it: bash's kill of an empty group costs ~0.3 ms (it formats a localised error),
  # a quarter of the launcher's whole cost per task.
  printf 'F %s %s\n' "$i" "$s" || kill -KILL -- "-$t"
done
