# Baton launcher, python3 flavour: a long-lived process that starts the tasks of one
# executor slot with posix_spawn and stays their parent, so that Node never forks per task
# and the end of a task is journaled even after Node is gone. Run as
# `python3 -I -S launcher.py <journalDir> <id>` with pipes on stdin/stdout.
#
# Why python3 when bash is everywhere: bash can only fork, and every page its loop writes
# after a fork costs a copy-on-write fault (~80 µs each on a 2-core VM): 180 faults and
# 14.9 ms of CPU a task for `true` with launcher.sh. posix_spawn (glibc: clone with
# CLONE_VM|CLONE_VFORK) shares the parent's memory until the exec, as ninja's spawn does:
# about 60 faults, all of them the task's own exec. launcher.sh stays for machines
# without python3; both speak the same protocol to Node and write the same journal.
#
# In:  `<8 hex digits: byte length><record>`, record = UTF-8 JSON
#      {"i": taskRunId, "k": token, "w": workdir, "l": logPath, "e": {env}, "a": [argv]}
#      (`e` is added to the launcher's environment; `a[0]` is looked up on the task's PATH).
# Journal (`<journalDir>/<launcherPid>.<id>.journal`, see journal.ts):
#      `P <token> <launcherPid>` before the spawn: from here the attempt may have run, so
#      nothing may start it again (an attempt without a P or S line never ran);
#      `S <token> <launcherPid> <taskPid>` once spawned; `F <token> <status>` once reaped
#      (128+n for signal n, as a shell says it; 127 or 126 when the command could not be
#      executed, its reason in the log); `E <token> cd|log` when nothing could start.
# Out: `S <id> <launcherPid> <taskPid>` once spawned; then `<user> <sys>` (the CPU time of
#      every task reaped so far, in bash's `times` format: launcher.ts reads both) and
#      `F <id> <status>`; `E <id> cd|log`. A command that cannot be executed reports only
#      the F line (no process ever ran).

import os
import sys

# Exit 3 (UNUSABLE_PYTHON_STATUS in launcher.ts) before anything else when this python3
# cannot run the launcher: the executor then falls back to launcher.sh.
if sys.version_info < (3, 8) or not hasattr(os, "posix_spawn"):
    sys.exit(3)
try:
    import json
    import signal
except ImportError:  # Debian's python3-minimal has no json
    sys.exit(3)

APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
# The task starts with default dispositions for what Python itself ignores, and with no
# signal blocked.
DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)


def encode(text):
    # JSON may carry lone surrogates; they pass through as bytes rather than kill the loop.
    return text.encode("utf-8", "surrogatepass")


def on_path(name, path):
    """Where execvp would find `name` on `path` (the task's PATH); None when nowhere."""
    if b"/" in name:
        return name
    for folder in (path if path is not None else b"/usr/local/bin:/usr/bin:/bin").split(b":"):
        candidate = (folder or b".") + b"/" + name
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def times_text(seconds):
    minutes = int(seconds // 60)
    return "%dm%.3fs" % (minutes, seconds - minutes * 60)


def main():
    journal_dir, ident = sys.argv[1], sys.argv[2]
    pid = os.getpid()
    try:
        journal = os.open("%s/%d.%s.journal" % (journal_dir, pid, ident), APPEND, 0o666)
    except OSError:
        sys.exit(1)
    base_env = dict(os.environb)
    records = sys.stdin.buffer
    children_user = children_sys = 0.0

    def journal_line(line):
        os.write(journal, line.encode("ascii"))

    def report(text):
        """To Node; False once Node is gone (the pipe is broken)."""
        try:
            os.write(1, text.encode("ascii"))
            return True
        except OSError:
            return False

    while True:
        head = records.read(8)
        if len(head) != 8:
            break
        try:
            size = int(head, 16)
        except ValueError:
            break
        body = records.read(size)
        if len(body) != size:
            break
        record = json.loads(body)
        i, k = record["i"], record["k"]
        try:
            os.chdir(record["w"])
        except OSError:
            journal_line("E %s cd\n" % k)
            report("E %s cd\n" % i)
            continue
        try:
            log = os.open(record["l"], APPEND, 0o666)
        except OSError:
            journal_line("E %s log\n" % k)
            report("E %s log\n" % i)
            continue
        env = dict(base_env)
        for key, value in record["e"].items():
            env[encode(key)] = encode(value)
        env[b"PWD"] = encode(os.getcwd())
        argv = [encode(a) for a in record["a"]]
        task = 0
        status = None
        try:
            journal_line("P %s %d\n" % (k, pid))
        except OSError:
            os.write(log, b"baton: cannot write the launcher journal in %s\n" % encode(journal_dir))
            status = 126
        if status is None:
            program = on_path(argv[0], env.get(b"PATH"))
            try:
                if program is None:
                    raise FileNotFoundError(2, "command not found")
                task = os.posix_spawn(
                    program,
                    argv,
                    env,
                    file_actions=[
                        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                        (os.POSIX_SPAWN_DUP2, log, 1),
                        (os.POSIX_SPAWN_DUP2, log, 2),
                    ],
                    setpgroup=0,
                    setsigdef=DEFAULT_SIGNALS,
                    setsigmask=(),
                )
            except OSError as error:
                os.write(log, b"baton: %s: %s\n" % (argv[0], encode(error.strerror or "cannot execute")))
                status = 127 if isinstance(error, FileNotFoundError) else 126
        os.close(log)
        if task:
            journal_line("S %s %d %d\n" % (k, pid, task))
            report("S %s %d %d\n" % (i, pid, task))
            _, wait_status, usage = os.wait4(task, 0)
            status = (
                128 + os.WTERMSIG(wait_status)
                if os.WIFSIGNALED(wait_status)
                else os.WEXITSTATUS(wait_status)
            )
            children_user += usage.ru_utime
            children_sys += usage.ru_stime
        try:
            journal_line("F %s %d\n" % (k, status))
        except OSError:
            pass
        # A finished task leaves nothing behind: Node kills what is left of its process
        # group when it reads the F line. Only when Node is gone does the launcher do it.
        cpu = "%s %s" % (times_text(children_user), times_text(children_sys))
        if not report("%s\nF %s %d\n" % (cpu, i, status)) and task:
            try:
                os.killpg(task, signal.SIGKILL)
            except OSError:
                pass


main()
