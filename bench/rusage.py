#!/usr/bin/python3
"""rusage.py - run one command and report its wall time, CPU time and peak memory.

Helper of bench/transfer.sh (any python3 will do; it only uses the standard
library).

  rusage.py --out FILE [--stamp FILE] [--stop stdin|int|term] [--timeout S] -- CMD [ARG]...

Runs CMD with this process's stdout (and stderr unless --stamp), waits for it
with os.wait4 and writes one line to FILE:

  exit=N wall=S user=S sys=S maxrss_kib=N maxanon_kib=N timeout=0|1

exit is CMD's exit status, or minus the signal number if a signal ended it;
wall is from just before spawning CMD to its exit (monotonic clock); user, sys
and maxrss_kib are CMD's own rusage (ru_utime, ru_stime, ru_maxrss), so they
are right even when CMD was killed by a signal, and they exclude this wrapper.
maxanon_kib is the largest RssAnon of /proc/PID/status seen by sampling it
every 50 ms (0 where there is no /proc): resident memory without file pages,
which matters for programs that mmap their data files (libtorrent 2.0 does,
so its ru_maxrss counts the torrent's pages it touched).
Exits with CMD's exit status (128 + signal if it was killed).

--stamp FILE: CMD's stderr goes through a pipe; every line is written to FILE
    as "SECONDS<TAB>LINE", SECONDS since CMD was spawned (same clock as wall),
    and copied to this process's stderr.
--stop: what SIGTERM or SIGINT sent to this wrapper does to CMD:
    stdin - close CMD's stdin (CMD then gets a pipe as stdin, kept open until
            then; lt_tool.py seed stops that way),
    int   - send CMD SIGINT (the default),
    term  - send CMD SIGTERM.
    A second SIGTERM/SIGINT sends SIGKILL. Without stop=stdin, CMD's stdin
    is /dev/null.
--timeout S: after S seconds CMD is stopped as above, and SIGKILLed 10 seconds
    later if it is still running; the report then says timeout=1.

CMD is also SIGKILLed if this wrapper dies first (PR_SET_PDEATHSIG), so a
killed benchmark leaves no stray peer behind.
"""

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent):
    def setup():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except Exception:  # not Linux: nothing to do
            pass
        if os.getppid() != parent:  # the wrapper died before prctl
            os._exit(137)
        # A non-interactive shell starts background jobs with SIGINT ignored,
        # and exec keeps ignored signals ignored: give CMD the default back.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return setup


def main(argv):
    if "--" not in argv:
        sys.stderr.write("usage: rusage.py --out FILE [--stamp FILE] [--stop stdin|int|term] [--timeout S] -- CMD...\n")
        return 2
    split = argv.index("--")
    p = argparse.ArgumentParser(prog="rusage.py")
    p.add_argument("--out", required=True)
    p.add_argument("--stamp")
    p.add_argument("--stop", choices=("stdin", "int", "term"), default="int")
    p.add_argument("--timeout", type=float)
    args = p.parse_args(argv[:split])
    cmd = argv[split + 1:]
    if not cmd:
        p.error("no command after --")

    stamp = open(args.stamp, "w", buffering=1) if args.stamp else None
    # Handlers first: a stop request that comes while CMD is being spawned is
    # carried out as soon as it runs.
    stops = [0]
    timed_out = [False]
    lock = threading.Lock()
    child = None

    def stop():
        with lock:
            stops[0] += 1
            n = stops[0]
        if child is None:
            return
        try:
            if n > 1:
                os.kill(child.pid, signal.SIGKILL)
            elif args.stop == "stdin":
                child.stdin.close()
            else:
                os.kill(child.pid, signal.SIGINT if args.stop == "int" else signal.SIGTERM)
        except (OSError, ValueError):
            pass  # already gone

    signal.signal(signal.SIGTERM, lambda *_: stop())
    signal.signal(signal.SIGINT, lambda *_: stop())

    start = time.monotonic()
    try:
        child = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE if args.stop == "stdin" else subprocess.DEVNULL,
            stderr=subprocess.PIPE if stamp else None,
            preexec_fn=_die_with_parent(os.getpid()),
        )
    except OSError as exc:
        sys.stderr.write("rusage.py: cannot run %s: %s\n" % (cmd[0], exc))
        return 127

    if stops[0]:
        with lock:
            stops[0] -= 1
        stop()

    def on_timeout():
        timed_out[0] = True
        stop()
        late = threading.Timer(10, lambda: _kill(child.pid))
        late.daemon = True
        late.start()

    if args.timeout:
        timer = threading.Timer(args.timeout, on_timeout)
        timer.daemon = True
        timer.start()

    done = threading.Event()
    max_anon = [0]

    def sample():
        path = "/proc/%d/status" % child.pid
        while not done.is_set():
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            max_anon[0] = max(max_anon[0], int(line.split()[1]))
                            break
            except (OSError, ValueError):
                pass
            done.wait(0.05)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    reader = None
    if stamp:
        def copy():
            for raw in iter(child.stderr.readline, b""):
                t = time.monotonic() - start
                line = raw.decode("utf-8", "replace").rstrip("\n")
                stamp.write("%.6f\t%s\n" % (t, line))
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
        reader = threading.Thread(target=copy, daemon=True)
        reader.start()

    _, status, ru = os.wait4(child.pid, 0)  # retried on EINTR (PEP 475)
    wall = time.monotonic() - start
    child.returncode = 0  # reaped here; keep Popen from waiting again
    done.set()
    sampler.join(1)
    if reader:
        reader.join(5)
    if os.WIFSIGNALED(status):
        code, ret = -os.WTERMSIG(status), 128 + os.WTERMSIG(status)
    else:
        code = ret = os.WEXITSTATUS(status)
    with open(args.out, "w") as f:
        f.write("exit=%d wall=%.6f user=%.6f sys=%.6f maxrss_kib=%d maxanon_kib=%d timeout=%d\n"
                % (code, wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss, max_anon[0], 1 if timed_out[0] else 0))
    return ret


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
