#!/usr/bin/python3
"""tr_tool.py - runs a real Transmission 3.00 peer (transmission-cli) for Shoal's interop tests.

  seed TORRENT DIR CONFIG [--timeout SECONDS]
      Transmission verifies the data in DIR (the folder holding the torrent's
      top-level file or folder) and seeds it.
  download TORRENT DIR CONFIG [--timeout SECONDS]
      Transmission downloads into DIR from whoever connects to it.

Both print {"port": N} (flushed) once the torrent is running - seeding after a
complete verification, or downloading - and then run until stdin closes or the
timeout (default 300 s) passes. Transmission 3.00 does not connect out to
peers it is not told about, so the other side connects to that port.

CONFIG is an empty folder for Transmission's settings.json, resume data and
its log (CONFIG/log.txt). Only loopback: it listens on 127.0.0.1 (and ::1),
with DHT, local peer discovery, PEX, uTP, port mapping, the blocklist and RPC
off; the torrent has no trackers to reach. Encryption is tolerated, not
preferred: Shoal speaks plaintext only.
"""

import argparse
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    # PR_SET_PDEATHSIG: transmission-cli goes when this script does, however it ends.
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["seed", "download"])
    parser.add_argument("torrent")
    parser.add_argument("dir")
    parser.add_argument("config")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    # Swift's Process starts this script with SIGTERM and others blocked; transmission-cli would inherit that.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    settings = {
        "bind-address-ipv4": "127.0.0.1",
        "bind-address-ipv6": "::1",
        "dht-enabled": False,
        "lpd-enabled": False,
        "pex-enabled": False,
        "utp-enabled": False,
        "port-forwarding-enabled": False,
        "blocklist-enabled": False,
        "rpc-enabled": False,
        "encryption": 0,
        "message-level": 3,
    }
    os.makedirs(args.config, exist_ok=True)
    with open(os.path.join(args.config, "settings.json"), "w") as f:
        json.dump(settings, f)
    port = free_port()
    # stdbuf: transmission-cli's status line ("\r" and no newline, every 200 ms) must not sit in a buffer.
    command = ["/usr/bin/stdbuf", "-o0", "/usr/bin/transmission-cli", "-g", args.config, "-w", args.dir,
               "-p", str(port), "-M", "-et", args.torrent]
    log = open(os.path.join(args.config, "log.txt"), "wb")
    tr = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                          preexec_fn=die_with_parent)
    # "Seeding, ..." once verified and complete; "Progress: ..." while downloading (after the
    # check of an empty folder); "Verifying local files ..." / "Waiting to verify ..." before.
    ready = "Seeding" if args.mode == "seed" else "Progress:"
    announced = False
    status = b""
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline and tr.poll() is None:
            readable, _, _ = select.select([sys.stdin, tr.stdout], [], [], 0.5)
            if sys.stdin in readable and not os.read(sys.stdin.fileno(), 4096):
                break
            if tr.stdout in readable:
                status = (status + os.read(tr.stdout.fileno(), 4096))[-4096:]
                if not announced and b"\r" + ready.encode() in status:
                    print(json.dumps({"port": port}), flush=True)
                    announced = True
    finally:
        tr.terminate()
        try:
            tr.wait(5)
        except subprocess.TimeoutExpired:
            tr.kill()
            tr.wait()
    return 0 if announced else 1


if __name__ == "__main__":
    sys.exit(main())
