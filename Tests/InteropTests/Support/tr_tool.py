#!/usr/bin/python3
"""tr_tool.py - runs a real Transmission 3.00 peer (transmission-cli) for Shoal's interop tests.

  seed TORRENT DIR CONFIG [--timeout SECONDS] [--trackers [--events]]
      Transmission verifies the data in DIR (the folder holding the torrent's
      top-level file or folder) and seeds it.
  download TORRENT DIR CONFIG [--timeout SECONDS] [--trackers [--events]]
      Transmission downloads into DIR from whoever connects to it.
      TORRENT may be a magnet link ("magnet:?..."; download only, exit 2 for
      seed): transmission-cli adds it without metadata and fetches the
      metadata (BEP 9, ut_metadata) from a peer that connects to it. Without
      --trackers the magnet's "tr" parameters are removed. Its debug log is
      then always on (TR_DEBUG_FD=2, into CONFIG/log.txt) and the script
      prints on stderr (flushed), SECONDS since the {"port": N} line:
        metadata received SECONDS   (log: 'Saving completed metadata to ...')
        download complete SECONDS   (the status line switched to "Seeding")
      Measured with lt_tool.py seed --peer 127.0.0.1:N (libtorrent connects
      out; Transmission 3.00 accepts the incoming connection for a torrent it
      has no metadata for, asks for the metadata and gets it): metadata
      0.7-1.3 s after the {"port"} line with --plain (2.3 s without: the
      libtorrent seeder first tries MSE and Transmission drops that
      handshake, then it reconnects plain), 3 MB complete ~16 s after it.
      Quirks of a Transmission 3.00 magnet download:
        - once the metadata is complete Transmission pauses the torrent,
          verifies it ("Magnet Verify") and closes every peer connection, then
          tries to connect out to the peer's listen port - and gives up,
          because it never connects to 127.0.0.1 ("peerIo not created;
          marking peer as unreachable", retry in 900 s). The data comes only
          if the other side connects again (lt_tool.py seed --peer does, with
          min_reconnect_time 1 s; a Shoal seeder must too).
        - it cannot use hybrid (v1+v2) metadata: the info dictionary passes
          the SHA-1 check but does not parse ("err is 84", then "metadata
          error; trying again" forever), so Transmission magnet tests need a
          v1 torrent (lt_tool.py create --v1).
        - no v2-only magnets (xt=urn:btmh): 3.00 has no BitTorrent v2.

Both print {"port": N} (flushed) once the torrent is running - seeding after a
complete verification, or downloading - and then run until stdin closes or the
timeout (default 300 s) passes. Transmission 3.00 does not connect out to
peers it is not told about, so the other side connects to that port.

CONFIG is an empty folder for Transmission's settings.json, resume data and
its log (CONFIG/log.txt). Only loopback: it listens on 127.0.0.1 (and ::1),
with DHT, local peer discovery, PEX, uTP, port mapping, the blocklist and RPC
off. Encryption is tolerated, not preferred: Shoal speaks plaintext only.

Trackers: by default Transmission has none to reach - it is given a copy of
the torrent without "announce" / "announce-list" (CONFIG/without-trackers.torrent;
the info dictionary is copied byte for byte, so the info-hash is the same).
--trackers gives it the torrent as it is, and it announces to the torrent's
trackers (on 127.0.0.1: Transmission 3.00 announces to loopback trackers,
HTTP and UDP, with the settings above). Then:
  - {"port": N} also waits for the answer (reply or error) to Transmission's
    first real announce, at most 20 s after the torrent runs: when the line
    comes, a tracker that replied lists this peer. That takes about 2 s:
    Transmission announces on a 1 s timer, one event at a time, and it first
    sends a "stopped" (the torrent is stopped for its initial verification)
    and only then "started".
  - Transmission NEVER connects to the peers a tracker returns when they are
    on loopback: 3.00 drops 127.0.0.0/8 and ::1 addresses from tracker
    replies (and PEX) as "martian" (tr_address_is_valid_for_peers). The
    tracker only helps the other side find Transmission: a Transmission
    downloader gets data only from a peer that connects to it, i.e. one that
    announces after Transmission did (start Transmission first and wait for
    its port line, or make the other peer re-announce, e.g. lt_tool.py
    --reannounce). A peer downloading from a Transmission seeder finds it
    through the tracker and connects as usual. Transmission honours the
    tracker's interval (opentracker: ~30 min) and cannot be told to
    re-announce.
  - A transfer with Transmission only gets going at its next rechoke (every
    10 s): about 12 s from the connection to the last byte of a 3 MB torrent,
    seeding or downloading, against about 0.1 s between two libtorrents.
  - On exit (stdin closed or timeout) it gets SIGINT instead of SIGTERM, so
    it stops the torrent and announces "stopped" (it waits at most 10 s).
    That "stopped" reaches a UDP tracker, but 3.00 drops the HTTP request at
    shutdown: an HTTP tracker keeps listing it until the peer expires.
  - Transmission's debug log (TR_DEBUG_FD=2) goes into CONFIG/log.txt too,
    for its announce traffic; it is big (every block: ~780 KB for 3 MB moved),
    so the end of log.txt is mostly peer chatter.
  --events (with --trackers): one stderr line (flushed) per announce answer,
  in the style of lt_tool.py, plus the event the announce carried:
      tracker reply URL peers=N event=started|completed|stopped|none
      tracker error URL MESSAGE
      tracker warning URL MESSAGE
  URL is Transmission's name for the tracker: scheme, host and port, without
  the path ("http://127.0.0.1:6969", "udp://127.0.0.1:6969"). N counts the
  peers in the reply (IPv4 and IPv6), the announcing peer itself included if
  the tracker lists it.
"""

import argparse
import ctypes
import json
import os
import re
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


def _bencode_end(data, i):
    """Offset just past the bencoded value that starts at data[i]."""
    c = data[i:i + 1]
    if c == b"i":
        return data.index(b"e", i) + 1
    if c in (b"l", b"d"):
        i += 1
        while data[i:i + 1] != b"e":
            if i >= len(data):
                raise ValueError("truncated bencoding")
            i = _bencode_end(data, i)
        return i + 1
    if c.isdigit():
        colon = data.index(b":", i)
        return colon + 1 + int(data[i:colon])
    raise ValueError("bad bencoding at offset %d" % i)


def without_trackers(torrent, out):
    """Writes a copy of torrent without "announce" / "announce-list" to out.

    The other top-level entries, the info dictionary above all, are copied byte
    for byte, so the info-hash is the same."""
    with open(torrent, "rb") as f:
        data = f.read()
    if data[:1] != b"d":
        raise ValueError("%s is not a bencoded dictionary" % torrent)
    kept = []
    i = 1
    while data[i:i + 1] != b"e":
        key_end = _bencode_end(data, i)
        key = data[data.index(b":", i) + 1:key_end]
        value_end = _bencode_end(data, key_end)
        if key not in (b"announce", b"announce-list"):
            kept.append(data[i:value_end])
        i = value_end
    with open(out, "wb") as f:
        f.write(b"d" + b"".join(kept) + b"e")
    return out


class AnnounceWatch:
    """Follows Transmission's debug log (TR_DEBUG_FD=2, into CONFIG/log.txt) for
    its tracker traffic: which event each announce carried and what came back.

    announcer.c logs, per tier ("[NAME---TRACKER]"), the queue of events after
    each push ("announce queue is [0:stopped][1:started]"), "announcing tier"
    when it sends the head of that queue, and "Got announce response: ..." when
    the answer (or a failure) is in."""

    LINE = re.compile(r"^\[[^\]]*\] \[(?P<name>.*?)---(?P<tracker>[^\]\s]*)\] (?P<msg>.*?)(?: \([\w.-]+\.c:\d+\))?$")
    RESPONSE = re.compile(r"Got announce response: connected:(?P<connected>\d+) timeout:(?P<timeout>\d+) "
                          r"seeders:(?P<seeders>-?\d+) leechers:(?P<leechers>-?\d+) downloads:-?\d+ "
                          r"interval:-?\d+ min_interval:-?\d+ tracker_id_str:.* pex:(?P<pex>\d+) "
                          r"pex6:(?P<pex6>\d+) err:(?P<err>.*) warn:(?P<warn>.*)$")

    def __init__(self, path, events):
        self.path = path
        self.events = events
        self.offset = 0
        self.partial = b""
        self.queues = {}
        self.sending = {}
        self.answered = None  # None until a non-"stopped" announce is answered, then True (reply) / False (error)

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
                self.offset = f.tell()
        except OSError:
            return
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        for raw in lines:
            self.line(raw.decode("utf-8", "replace").rstrip("\r"))

    def line(self, text):
        m = self.LINE.match(text)
        if not m:
            return
        tracker, msg = m.group("tracker"), m.group("msg")
        if msg.startswith("announce queue is"):
            self.queues[tracker] = re.findall(r"\[\d+:(\w*)\]", msg)
        elif msg.startswith("announcing tier"):
            queue = self.queues.get(tracker, [])
            self.sending[tracker] = queue.pop(0) if queue else ""
        else:
            r = self.RESPONSE.match(msg)
            if r:
                self.response(tracker, self.sending.pop(tracker, ""), r)

    def response(self, tracker, event, r):
        if r.group("connected") == "0":
            ok, text = False, "could not connect to tracker"
        elif r.group("timeout") == "1":
            ok, text = False, "tracker did not respond"
        elif r.group("err") != "none":
            ok, text = False, r.group("err")
        else:
            ok, text = True, None
        if self.events:
            if r.group("warn") != "none":
                emit("tracker warning %s %s" % (tracker, r.group("warn")))
            if ok:
                emit("tracker reply %s peers=%d event=%s"
                     % (tracker, int(r.group("pex")) + int(r.group("pex6")), event or "none"))
            else:
                emit("tracker error %s %s" % (tracker, text))
        if event != "stopped" and self.answered is None:
            self.answered = ok


def magnet_without_trackers(magnet):
    """The magnet link without its "tr" (tracker) parameters."""
    head, _, query = magnet.partition("?")
    kept = [part for part in query.split("&") if part and not part.lower().startswith("tr=")
            and not part.lower().startswith("tr.")]
    return head + "?" + "&".join(kept)


class MagnetWatch:
    """Follows Transmission's debug log (TR_DEBUG_FD=2) of a magnet download for
    the moment the metadata is complete: torrent-magnet.c logs
    'Saving completed metadata to "CONFIG/torrents/<hash>.torrent"'."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""
        self.done = False

    def poll(self):
        if self.done:
            return False
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
                self.offset = f.tell()
        except OSError:
            return False
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        if any(b"Saving completed metadata" in line for line in lines):
            self.done = True
        return self.done


def emit(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["seed", "download"])
    parser.add_argument("torrent")
    parser.add_argument("dir")
    parser.add_argument("config")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--trackers", action="store_true",
                        help="announce to the torrent's trackers (otherwise they are stripped)")
    parser.add_argument("--events", action="store_true",
                        help="with --trackers: print tracker replies and errors on stderr")
    args = parser.parse_args()
    if args.torrent.startswith("magnet:") and args.mode != "download":
        parser.error("a magnet link only works with download")
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
    torrent = args.torrent
    magnet = torrent.startswith("magnet:")
    env = dict(os.environ)
    watch = None
    magnet_watch = None
    log_path = os.path.join(args.config, "log.txt")
    if args.trackers:
        # Transmission's debug log goes to stderr (log.txt) only with TR_DEBUG_FD=2; it is the
        # one place that says which announce got which answer.
        env["TR_DEBUG_FD"] = "2"
        watch = AnnounceWatch(log_path, args.events)
    elif magnet:
        torrent = magnet_without_trackers(torrent)
    else:
        # Same info-hash, no trackers: Transmission has nobody to announce to.
        torrent = without_trackers(args.torrent, os.path.join(args.config, "without-trackers.torrent"))
    if magnet:
        # the debug log is the one place that says when the metadata is complete
        env["TR_DEBUG_FD"] = "2"
        magnet_watch = MagnetWatch(log_path)
    port = free_port()
    # stdbuf: transmission-cli's status line ("\r" and no newline, every 200 ms) must not sit in a buffer.
    command = ["/usr/bin/stdbuf", "-o0", "/usr/bin/transmission-cli", "-g", args.config, "-w", args.dir,
               "-p", str(port), "-M", "-et", torrent]
    log = open(log_path, "wb")
    tr = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                          preexec_fn=die_with_parent, env=env)
    # "Seeding, ..." once verified and complete; "Progress: ..." while downloading (after the
    # check of an empty folder); "Verifying local files ..." / "Waiting to verify ..." before.
    ready = "Seeding" if args.mode == "seed" else "Progress:"
    running_since = None
    announced = False
    completed = False
    status = b""
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline and tr.poll() is None:
            readable, _, _ = select.select([sys.stdin, tr.stdout], [], [],
                                           0.5 if watch is None and magnet_watch is None else 0.1)
            if sys.stdin in readable and not os.read(sys.stdin.fileno(), 4096):
                break
            if tr.stdout in readable:
                status = (status + os.read(tr.stdout.fileno(), 4096))[-4096:]
                if running_since is None and b"\r" + ready.encode() in status:
                    running_since = time.monotonic()
                if magnet and running_since is not None and not completed and b"\rSeeding" in status:
                    completed = True
                    emit("download complete %.3f" % (time.monotonic() - running_since))
            if watch is not None:
                watch.poll()
            if magnet_watch is not None and running_since is not None and magnet_watch.poll():
                emit("metadata received %.3f" % (time.monotonic() - running_since))
            # With --trackers, "running" also waits for the answer to the first real announce
            # (not the "stopped" Transmission sends first), or 20 s.
            if (not announced and running_since is not None
                    and (watch is None or watch.answered is not None or time.monotonic() - running_since > 20)):
                print(json.dumps({"port": port}), flush=True)
                announced = True
    finally:
        if watch is not None and tr.poll() is None:
            # transmission-cli stops the torrent, which announces "stopped", on SIGINT only;
            # SIGTERM ends it at once and the tracker would list it until it expires.
            tr.send_signal(signal.SIGINT)
            try:
                tr.wait(10)
            except subprocess.TimeoutExpired:
                pass
        tr.terminate()
        try:
            tr.wait(5)
        except subprocess.TimeoutExpired:
            tr.kill()
            tr.wait()
        if watch is not None:
            watch.poll()  # the "stopped" announce on the way out
    return 0 if announced else 1


if __name__ == "__main__":
    sys.exit(main())
