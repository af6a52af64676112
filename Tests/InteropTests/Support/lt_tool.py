#!/usr/bin/python3
"""lt_tool.py - libtorrent reference oracle for Shoal's interop tests and benchmarks.

Shoal's InteropTests (and bench/create-verify.sh) call this to compare Shoal's
torrent parsing, creation and verification against libtorrent-rasterbar 2.0.
It must run under the Debian interpreter, /usr/bin/python3, which is the one
that can `import libtorrent` (python3-libtorrent); the pyenv python3 on PATH can't.

Every subcommand prints one JSON object on stdout; errors go to stderr, exit 1
(exit 2 for bad usage); `check` also exits 1 when "error" is not null.
Everything is loopback-only: peers and trackers on 127.0.0.1.

  info TORRENT
      {"v1": hex|null, "v2": full 64-char hex|null, "name", "files":
       [{"path", "length", "padding"}], "pieceLength", "pieceCount",
       "totalSize" (pad files excluded), "private", "trackers" (list of tiers),
       "webSeeds", "magnet" (lt.make_magnet_uri)}
      "path" is libtorrent's file_path() with "/" separators: for multi-file
      torrents it starts with the torrent name; pad files are listed as
      libtorrent names them (".pad/N"). NOTE: for v2 / hybrid torrents
      libtorrent's file_storage contains pad files (piece alignment), also for
      pure v2 torrents where they are implicit and not in the .torrent.
      "webSeeds" are as libtorrent sees them: it appends "/" to web seed URLs
      of multi-file torrents ("http://h/ws" in url-list -> "http://h/ws/").
      "trackers" are the file's own tiers in file order (libtorrent itself
      shuffles URLs within a tier, and so does the order in "magnet").

  check TORRENT SAVE_DIR [--timeout SECONDS]
      {"pieces": N, "have": verified count, "notHave": [indices], "state",
       "error"} - adds the torrent to a network-less session with
      save_path=SAVE_DIR (the folder that holds the torrent's top-level file
      or folder), lets libtorrent hash-check everything on disk and reports
      which pieces passed. Trackers and web seeds are stripped, DHT/LSD/UPnP/
      NAT-PMP are off, it listens on 127.0.0.1 only, and the torrent is in
      upload mode and pauses as soon as the check ends. Libtorrent can't tell
      missing from bad pieces: both are in "notHave". NOTE: the check is not
      read-only - libtorrent creates the torrent's zero-length files (and
      their folders) under SAVE_DIR; other missing files are not created.

  seed TORRENT SAVE_DIR [--timeout SECONDS] [--plain]
       [--trackers [--reannounce SECONDS]] [--events]
      Seeds from SAVE_DIR on 127.0.0.1: prints {"port": N} at once (flushed),
      then runs until stdin closes or the timeout passes, and prints
      {"uploaded": bytes} on exit. With --trackers, {"port": N} waits for the
      answer (reply or error) to the first announce, at most 10 s: when the
      line comes, a tracker that replied already lists this seeder.

  download TORRENT SAVE_DIR [--peer HOST:PORT] [--timeout SECONDS] [--plain]
           [--trackers [--reannounce SECONDS]] [--events]
      Downloads from that one peer (libtorrent connects out to it), and/or,
      with --trackers, from the peers the torrent's trackers return; --peer,
      --trackers or both must be given (exit 2 otherwise):
      {"pieces", "have", "seeding", "error"}.
      --events: also prints a line on stderr (flushed) as things happen:
      "connecting to HOST:PORT" when an outgoing connection attempt starts
      (accepted incoming connections print nothing) and "download complete"
      once every piece has passed its hash check (bench/transfer.sh
      timestamps these). seed --events prints the same connection and
      tracker lines (a seeder connects out to peers a tracker names).

  Trackers (seed, download): by default the torrent's own trackers are
  stripped (override_trackers) and nothing is announced. --trackers keeps them
  and libtorrent announces to all of them, every tier (announce_to_all_tiers,
  announce_to_all_trackers), as soon as the torrent starts: "started", then
  "completed" when a download finishes, and "stopped" on exit (the torrent is
  paused first and the answers awaited, at most 2 s: libtorrent 2.0.8 loses a
  UDP tracker's "stopped" when the session just goes away; after a download
  the "completed" answer is awaited too, at most 3 s, or the "stopped" could
  overtake it). Loopback only, as everywhere here: listens on 127.0.0.1, DHT/
  LSD/UPnP/NAT-PMP/PEX off, allow_multiple_connections_per_ip on (every peer
  is 127.0.0.1), anonymous_mode off. ssrf_mitigation is off: with it,
  libtorrent refuses tracker URLs on localhost unless the path is /announce
  (the error is "blocked by SSRF mitigation"). libtorrent takes 127.0.0.1
  peers from a tracker on 127.0.0.1 and connects to them; when a tracker lists
  the announcing peer itself (opentracker does) libtorrent also connects to
  its own port and drops that connection at the handshake, so "connecting to"
  may name the tool's own port. A hybrid torrent announces twice per tracker
  (v1 info-hash and truncated v2 info-hash), so lines come in pairs.
      --reannounce SECONDS: force_reannounce() every SECONDS, ignoring the
  tracker's interval and min interval (libtorrent otherwise waits out the
  interval; a failed tracker is retried about every 5 s). Use it when this
  peer may announce before the peer it needs to meet: a tracker only tells
  the newcomer. libtorrent works in whole seconds: the announce goes out
  within about a second of each force.
      --events adds one stderr line per tracker alert:
        tracker reply URL peers=N      (tracker_reply_alert; N = peers in the
                                        reply, the "stopped" reply included)
        tracker error URL MESSAGE      (tracker_error_alert: the failure reason
                                        and/or error, "(HTTP N)" for an HTTP
                                        status other than 200)
        tracker warning URL MESSAGE    (tracker_warning_alert)
      URL is the tracker's URL as in the torrent.

  scrape TORRENT [--timeout SECONDS]
      Scrapes the torrent's first tracker (libtorrent picks it; HTTP trackers
      need "announce" in the URL to derive the scrape URL) and prints
      {"complete", "incomplete", "downloaded"} (downloaded is -1 when the
      tracker does not say); exit 1 with the error on stderr when the scrape
      fails or nothing answers within the timeout (default 30 s). The torrent
      is added paused, in upload mode, to a loopback-only session as above,
      with an empty temporary save folder that is removed afterwards: it
      never announces itself, so it does not change the counts. NOTE:
      opentracker answers an HTTP scrape of a torrent it has no peers for
      with an empty "files" dictionary, which libtorrent reports as an error
      ("missing or invalid 'hash' entry"); over UDP the same scrape gives 0s.

  Peer encryption (seed, download): by default libtorrent's own settings,
  which allow both plain and MSE/PE (message stream encryption) connections;
  an outgoing connection tries MSE first and, if the peer does not speak it
  (Shoal does not), reconnects plain after the failed attempt, which costs
  about a second even on loopback. --plain sets in_enc_policy and out_enc_policy to
  pe_disabled: plain BitTorrent handshakes only, no MSE attempt.

  create PATH OUT [--v1|--v2|--hybrid] [--piece-size N] [--tracker URL]...
         [--web-seed URL]... [--private] [--comment TEXT] [--no-tail-padding]
      Writes a .torrent for PATH (file or folder) to OUT with
      lt.create_torrent (hybrid by default) and prints
      {"out", "v1", "v2", "pieceLength", "pieceCount"}.
      libtorrent quirks: --v1 lists files in readdir order (not sorted);
      --v2/--hybrid sort them bytewise per path component and pad every file
      to a piece boundary (hybrids of 2+ files also after the last file, unless
      --no-tail-padding). Piece sizes: 0 = auto; --v1 needs a power of two;
      --v2/--hybrid silently raise anything below 16384 to 16384 and reject
      other non-powers of two. A lone zero-length file fails.
"""

import argparse
import json
import select
import os
import shutil
import sys
import tempfile
import time

try:
    import libtorrent as lt
except ImportError as exc:  # pragma: no cover
    sys.stderr.write("lt_tool.py: cannot import libtorrent (%s); run it with /usr/bin/python3\n" % exc)
    sys.exit(1)


def _hex(digest):
    # sha1_hash / sha256_hash -> lowercase hex (str() of a digest is its hex form)
    return str(digest).lower()


def _load_info(path):
    return lt.torrent_info(path)


def _hashes(ti):
    ih = ti.info_hashes()
    v1 = _hex(ih.v1) if ih.has_v1() else None
    v2 = _hex(ih.v2) if ih.has_v2() else None
    return v1, v2


def _files(fs):
    out = []
    for i in range(fs.num_files()):
        p = fs.file_path(i)
        if os.sep != "/":
            p = p.replace(os.sep, "/")
        out.append({
            "path": p,
            "length": fs.file_size(i),
            "padding": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
        })
    return out


def cmd_info(args):
    ti = _load_info(args.torrent)
    v1, v2 = _hashes(ti)
    files = _files(ti.files())
    return {
        "v1": v1,
        "v2": v2,
        "name": ti.name(),
        "files": files,
        "pieceLength": ti.piece_length(),
        "pieceCount": ti.num_pieces(),
        "totalSize": sum(f["length"] for f in files if not f["padding"]),
        "private": bool(ti.priv()),
        "trackers": _tiers(ti, args.torrent),
        "webSeeds": [w["url"] for w in ti.web_seeds()],
        "magnet": lt.make_magnet_uri(ti),
    }


def _tiers(ti, path):
    # libtorrent shuffles the URLs within each tier when it loads a torrent
    # (BEP 12), so ti.trackers() order is random; report the file's own tiers
    # (announce-list, else announce) as decoded by lt.bdecode instead, falling
    # back to libtorrent's view grouped by tier.
    try:
        with open(path, "rb") as f:
            d = lt.bdecode(f.read())
        al = d.get(b"announce-list")
        if isinstance(al, list) and al:
            out = [[u.decode("utf-8", "replace") for u in tier if isinstance(u, bytes)]
                   for tier in al if isinstance(tier, list)]
            out = [t for t in out if t]
            if out:
                return out
        if isinstance(d.get(b"announce"), bytes) and d[b"announce"]:
            return [[d[b"announce"].decode("utf-8", "replace")]]
        return []
    except Exception:
        tiers = {}
        for t in ti.trackers():
            tiers.setdefault(t.tier, []).append(t.url)
        return [tiers[k] for k in sorted(tiers)]


def _session():
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.error_notification
                      | lt.alert.category_t.status_notification
                      | lt.alert.category_t.storage_notification,
    }
    return lt.session(settings)


def cmd_check(args):
    ti = _load_info(args.torrent)
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = os.path.abspath(args.save_dir)
    atp.trackers = []
    atp.url_seeds = []
    atp.http_seeds = []
    # override_* make libtorrent ignore the torrent's own trackers / web seeds
    atp.flags = (lt.torrent_flags.upload_mode
                 | lt.torrent_flags.stop_when_ready
                 | lt.torrent_flags.override_trackers
                 | lt.torrent_flags.override_web_seeds
                 | lt.torrent_flags.disable_dht
                 | lt.torrent_flags.disable_lsd
                 | lt.torrent_flags.disable_pex)
    ses = _session()
    h = ses.add_torrent(atp)
    # There is no resume data, so libtorrent hash-checks every existing piece on
    # add. No force_recheck(): if the first check had already ended, stop_when_ready
    # has paused the torrent, and a paused torrent's recheck never runs.
    deadline = time.monotonic() + args.timeout
    checking = (lt.torrent_status.checking_files,
                lt.torrent_status.queued_for_checking,
                lt.torrent_status.checking_resume_data,
                lt.torrent_status.allocating)
    checked = False
    error = None
    while time.monotonic() < deadline:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_checked_alert):
                checked = True
            elif isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                error = a.message()
        st = h.status()
        if error is None and st.errc.value() != 0:
            error = st.errc.message()
        if error is not None:
            break
        if checked and st.state not in checking:
            break
    st = h.status()
    if not checked and error is None:
        error = "timeout waiting for libtorrent to finish checking"
    have_bits = list(st.pieces)
    n = ti.num_pieces()
    not_have = [i for i in range(n) if i >= len(have_bits) or not have_bits[i]]
    result = {
        "pieces": n,
        "have": st.num_pieces,
        "notHave": not_have,
        "state": str(st.state),
        "error": error,
    }
    ses.remove_torrent(h)
    return result


def cmd_create(args):
    flags = 0
    if args.mode == "v1":
        flags = lt.create_torrent.v1_only
    elif args.mode == "v2":
        flags = lt.create_torrent.v2_only
    if args.no_tail_padding:
        flags |= lt.create_torrent.canonical_files_no_tail_padding
    src = os.path.abspath(args.path)
    if not os.path.exists(src):
        raise SystemExit("lt_tool.py: no such file or folder: %s" % src)
    fs = lt.file_storage()
    lt.add_files(fs, src)
    if fs.num_files() == 0:
        raise SystemExit("lt_tool.py: nothing to add under %s" % src)
    ct = lt.create_torrent(fs, args.piece_size, flags)
    for i, url in enumerate(args.tracker or []):
        ct.add_tracker(url, i)
    for url in args.web_seed or []:
        ct.add_url_seed(url)
    if args.private:
        ct.set_priv(True)
    if args.comment is not None:
        ct.set_comment(args.comment)
    lt.set_piece_hashes(ct, os.path.dirname(src))
    data = lt.bencode(ct.generate())
    with open(args.out, "wb") as f:
        f.write(data)
    ti = lt.torrent_info(args.out)
    v1, v2 = _hashes(ti)
    return {
        "out": args.out,
        "v1": v1,
        "v2": v2,
        "pieceLength": ti.piece_length(),
        "pieceCount": ti.num_pieces(),
    }


def _peer_session(plain=False, extra_alerts=0, trackers=False):
    """A session that exchanges data with peers on loopback only.

    plain: no MSE/PE, neither in nor out (see --plain in the docstring).
    extra_alerts: alert categories to enable on top of errors and status.
    trackers: settings for announcing to trackers on 127.0.0.1 (see --trackers)."""
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # loopback peers all share one address, and uTP would only add noise here
        "allow_multiple_connections_per_ip": True,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
                      | extra_alerts,
    }
    if plain:
        settings["out_enc_policy"] = lt.enc_policy.pe_disabled
        settings["in_enc_policy"] = lt.enc_policy.pe_disabled
    if trackers:
        settings.update(_TRACKER_SETTINGS)
        settings["alert_mask"] |= lt.alert.category_t.tracker_notification
    return lt.session(settings)


# Settings for swarms that meet through a tracker on 127.0.0.1 (--trackers, scrape).
_TRACKER_SETTINGS = {
    # announce to every tracker of every tier, not just the first that works
    "announce_to_all_tiers": True,
    "announce_to_all_trackers": True,
    # anonymous mode would hide the listen port and peer id from the tracker
    "anonymous_mode": False,
    # ssrf_mitigation (on by default) refuses tracker URLs on localhost unless
    # their path is /announce (a Shoal tracker at another path would never be
    # asked); loopback is all these tests use.
    "ssrf_mitigation": False,
    # a tracker that failed is retried every tracker_retry_delay_min (5 s)
    # rather than backing off exponentially (a tracker that starts late is
    # found soon), and no long wait for the "stopped" announce when the session
    # ends (a dead UDP tracker would hold it 5 s)
    "tracker_backoff": 0,
    "stop_tracker_timeout": 1,
    # a tracker on 127.0.0.1 answers at once; fail fast if it does not
    "tracker_completion_timeout": 10,
    "tracker_receive_timeout": 5,
    # libtorrent respects a tracker's "min interval" only down to this floor
    # (default 300 s); --reannounce ignores min intervals anyway
    "min_announce_interval": 1,
    "apply_ip_filter_to_trackers": False,
    "no_connect_privileged_ports": False,
}


def _tracker_event(a):
    """One stderr line for a tracker alert (--events); False if a is not one."""
    if isinstance(a, lt.tracker_reply_alert):
        _event("tracker reply %s peers=%d" % (a.tracker_url(), a.num_peers))
    elif isinstance(a, lt.tracker_error_alert):
        _event("tracker error %s %s" % (a.tracker_url(), _tracker_error_text(a)))
    elif isinstance(a, lt.tracker_warning_alert):
        _event("tracker warning %s %s" % (a.tracker_url(), _tracker_warning_text(a)))
    else:
        return False
    return True


def _alert_error(a):
    # error_message() is often empty in 2.0.8 when only the error code is set
    msg = a.error_message() if hasattr(a, "error_message") else ""
    if not msg and getattr(a, "error", None) is not None and a.error.value() != 0:
        msg = a.error.message()
    return msg


def _tracker_error_text(a):
    reason = a.failure_reason() if hasattr(a, "failure_reason") else ""
    msg = _alert_error(a)
    parts = [reason] if reason else []
    if msg and msg != reason:
        parts.append(msg)
    if getattr(a, "status_code", 0) > 0 and a.status_code != 200:
        parts.append("(HTTP %d)" % a.status_code)
    text = " ".join(parts) or a.message()
    return " ".join(text.split())  # one line


def _tracker_warning_text(a):
    # the binding has no warning_message(); message() is "<torrent> (<url>)[<endpoint>] v1 warning: <text>"
    text = a.message()
    if " warning: " in text:
        text = text.split(" warning: ", 1)[1]
    return " ".join(text.split())


def _add_peer_torrent(ses, args, extra_flags=None):
    """Adds args.torrent for seed/download; --trackers keeps its own trackers."""
    atp = lt.add_torrent_params()
    atp.ti = _load_info(args.torrent)
    atp.save_path = os.path.abspath(args.save_dir)
    atp.flags = lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex
    if extra_flags is not None:
        atp.flags |= extra_flags
    if not args.trackers:
        # override_trackers makes libtorrent ignore the torrent's own trackers
        atp.flags |= lt.torrent_flags.override_trackers
        atp.trackers = []
    return atp.ti, ses.add_torrent(atp)


class _Reannouncer:
    """--reannounce SECONDS: force_reannounce() every SECONDS (ignoring the tracker's intervals)."""

    def __init__(self, handle, seconds):
        self.handle = handle
        self.seconds = seconds
        self.last = time.monotonic()

    def tick(self):
        if self.seconds and time.monotonic() - self.last >= self.seconds:
            self.handle.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
            self.last = time.monotonic()


def cmd_seed(args):
    """Seeds TORRENT from SAVE_DIR on 127.0.0.1 until stdin closes or the timeout passes.

    Prints {"port": N} as soon as the session listens (stdout is flushed), then,
    on exit, one more line with the bytes uploaded."""
    ses = _peer_session(plain=args.plain, trackers=args.trackers,
                        extra_alerts=lt.alert.category_t.connect_notification if args.events else 0)
    _, h = _add_peer_torrent(ses, args, lt.torrent_flags.seed_mode)
    deadline = time.monotonic() + 10
    while ses.listen_port() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if args.trackers:
        # the tracker knows this seeder before anyone is told its port
        answered = False
        while not answered and time.monotonic() < deadline:
            ses.wait_for_alert(100)
            for a in ses.pop_alerts():
                answered = answered or isinstance(a, (lt.tracker_reply_alert, lt.tracker_error_alert))
                if args.events:
                    _peer_event(a)
    sys.stdout.write(json.dumps({"port": ses.listen_port()}) + "\n")
    sys.stdout.flush()
    reannouncer = _Reannouncer(h, args.reannounce)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sys.stdin], [], [], 0.1 if args.events else 0.5)
        if ready and not sys.stdin.read(1):
            break
        reannouncer.tick()
        for a in ses.pop_alerts():
            if args.events:
                _peer_event(a)
    for a in ses.pop_alerts():
        if args.events:
            _peer_event(a)
    st = h.status()
    if args.trackers:
        _announce_stopped(ses, h, args.events)
    return {"uploaded": st.total_upload, "error": None}


def cmd_download(args):
    """Downloads TORRENT into SAVE_DIR from the peer given (libtorrent connects out to it)
    and/or from the peers its trackers return (--trackers)."""
    ses = _peer_session(plain=args.plain, trackers=args.trackers,
                        extra_alerts=lt.alert.category_t.connect_notification if args.events else 0)
    ti, h = _add_peer_torrent(ses, args)
    peer = None
    if args.peer:
        host, port = args.peer.rsplit(":", 1)
        peer = (host.strip("[]"), int(port))
    reannouncer = _Reannouncer(h, args.reannounce)
    deadline = time.monotonic() + args.timeout
    last_connect = 0.0
    while time.monotonic() < deadline:
        st = h.status()
        if st.is_seeding:
            if args.events:
                _event("download complete")
            if args.trackers:
                _await_completed_announces(ses, h, args.events)
            break
        if peer and time.monotonic() - last_connect > 2 and st.num_peers == 0:
            h.connect_peer(peer)
            last_connect = time.monotonic()
        reannouncer.tick()
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if args.events:
                _peer_event(a)
    st = h.status()
    if args.trackers:
        _announce_stopped(ses, h, args.events)
    return {"pieces": ti.num_pieces(), "have": st.num_pieces, "seeding": st.is_seeding,
            "error": None if st.is_seeding else "did not finish in time"}


def _await_completed_announces(ses, h, events, limit=3.0):
    """Waits (at most limit seconds) until every tracker that was told "started"
    has answered the "completed" announce. Without this the session could go away
    with that announce in flight, and its "stopped" could reach the tracker first:
    the tracker would then count this peer as a seed long after it left."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        pending = False
        for t in h.trackers():
            for ep in t.get("endpoints", []):
                for ih in ep.get("info_hashes", []):
                    if ih.get("start_sent") and not ih.get("complete_sent") and ih.get("fails", 0) == 0:
                        pending = True
        if not pending:
            return
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if events:
                _peer_event(a)


def _announce_stopped(ses, h, events, limit=2.0):
    """Pauses the torrent, which sends the "stopped" announce, and waits (at most
    limit seconds) for the trackers' answers. libtorrent 2.0.8 does not get the
    "stopped" of a UDP tracker out when the session is simply destroyed, and the
    tracker would list this peer until it expires."""
    started = sum(1 for t in h.trackers() for ep in t.get("endpoints", [])
                  for ih in ep.get("info_hashes", []) if ih.get("start_sent"))
    for a in ses.pop_alerts():  # earlier answers must not count
        if events:
            _peer_event(a)
    h.pause()
    answers = 0
    deadline = time.monotonic() + limit
    while answers < started and time.monotonic() < deadline:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, (lt.tracker_reply_alert, lt.tracker_error_alert)):
                answers += 1
            if events:
                _peer_event(a)


def _peer_event(a):
    if isinstance(a, lt.peer_connect_alert):
        # libtorrent 2.0 posts this for accepted connections too; the binding has
        # no direction attribute, but the message says "incoming connection"
        if "incoming connection" not in a.message():
            _event("connecting to %s:%d" % (a.endpoint[0], a.endpoint[1]))
    else:
        _tracker_event(a)


def cmd_scrape(args):
    """Scrapes TORRENT's tracker: {"complete", "incomplete", "downloaded"}.

    The torrent is added paused (so it never announces itself), in upload mode,
    with an empty temporary save folder that is removed afterwards."""
    ti = _load_info(args.torrent)
    if not list(ti.trackers()):
        raise RuntimeError("the torrent has no trackers")
    ses = _peer_session(trackers=True)
    tmp = tempfile.mkdtemp(prefix="lt_tool-scrape-")
    try:
        atp = lt.add_torrent_params()
        atp.ti = ti
        atp.save_path = tmp
        atp.flags = (lt.torrent_flags.paused | lt.torrent_flags.upload_mode
                     | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex)
        h = ses.add_torrent(atp)
        h.scrape_tracker()
        result = None
        error = None
        deadline = time.monotonic() + args.timeout
        while result is None and error is None and time.monotonic() < deadline:
            ses.wait_for_alert(200)
            for a in ses.pop_alerts():
                if isinstance(a, lt.scrape_reply_alert):
                    result = {"complete": a.complete, "incomplete": a.incomplete,
                              "downloaded": _scrape_downloaded(h, a.tracker_url())}
                    break
                if isinstance(a, lt.scrape_failed_alert):
                    error = "%s: %s" % (a.tracker_url(), " ".join((_alert_error(a) or a.message()).split()))
                    break
        ses.remove_torrent(h)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if result is None:
        raise RuntimeError(error or "no scrape reply within %g s" % args.timeout)
    return result


def _scrape_downloaded(h, url):
    # scrape_reply_alert has no "downloaded"; libtorrent keeps it per announce endpoint
    best = -1
    for t in h.trackers():
        if t.get("url") != url:
            continue
        for ep in t.get("endpoints", []):
            for ih in ep.get("info_hashes", []):
                best = max(best, ih.get("scrape_downloaded", -1))
    return best


def _event(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _peer_tracker_args(sp):
    sp.add_argument("--trackers", action="store_true",
                    help="keep the torrent's trackers and announce to them (loopback)")
    sp.add_argument("--reannounce", type=float, metavar="SECONDS",
                    help="with --trackers: force a re-announce every SECONDS")
    sp.add_argument("--events", action="store_true",
                    help="print connection, tracker and completion events on stderr as they happen")


def main(argv):
    p = argparse.ArgumentParser(prog="lt_tool.py", description="libtorrent oracle for Shoal interop tests")
    sub = p.add_subparsers(dest="cmd", required=True)

    pi = sub.add_parser("info")
    pi.add_argument("torrent")
    pi.set_defaults(fn=cmd_info)

    pc = sub.add_parser("check")
    pc.add_argument("torrent")
    pc.add_argument("save_dir")
    pc.add_argument("--timeout", type=float, default=600.0)
    pc.set_defaults(fn=cmd_check)

    pk = sub.add_parser("create")
    pk.add_argument("path")
    pk.add_argument("out")
    g = pk.add_mutually_exclusive_group()
    g.add_argument("--v1", dest="mode", action="store_const", const="v1")
    g.add_argument("--v2", dest="mode", action="store_const", const="v2")
    g.add_argument("--hybrid", dest="mode", action="store_const", const="hybrid")
    pk.set_defaults(mode="hybrid")
    pk.add_argument("--piece-size", type=int, default=0, help="bytes; 0 = libtorrent's choice")
    pk.add_argument("--no-tail-padding", action="store_true",
                    help="hybrid: no pad file after the last file (create flag canonical_files_no_tail_padding)")
    pk.add_argument("--tracker", action="append")
    pk.add_argument("--web-seed", action="append")
    pk.add_argument("--private", action="store_true")
    pk.add_argument("--comment")
    pk.set_defaults(fn=cmd_create)

    ps = sub.add_parser("seed")
    ps.add_argument("torrent")
    ps.add_argument("save_dir")
    ps.add_argument("--timeout", type=float, default=300.0)
    ps.add_argument("--plain", action="store_true", help="no MSE/PE encryption, in or out")
    _peer_tracker_args(ps)
    ps.set_defaults(fn=cmd_seed)

    pd = sub.add_parser("download")
    pd.add_argument("torrent")
    pd.add_argument("save_dir")
    pd.add_argument("--peer", help="HOST:PORT to connect to (needed unless --trackers)")
    pd.add_argument("--timeout", type=float, default=120.0)
    pd.add_argument("--plain", action="store_true", help="no MSE/PE encryption, in or out")
    _peer_tracker_args(pd)
    pd.set_defaults(fn=cmd_download)

    pt = sub.add_parser("scrape")
    pt.add_argument("torrent")
    pt.add_argument("--timeout", type=float, default=30.0)
    pt.set_defaults(fn=cmd_scrape)

    args = p.parse_args(argv)
    if args.cmd in ("seed", "download"):
        if args.reannounce and not args.trackers:
            p.error("--reannounce needs --trackers")
        if args.reannounce is not None and args.reannounce <= 0:
            p.error("--reannounce needs a positive number of seconds")
    if args.cmd == "download" and not args.peer and not args.trackers:
        p.error("download needs --peer HOST:PORT, --trackers or both")
    try:
        result = args.fn(args)
    except SystemExit:
        raise
    except Exception as exc:  # libtorrent raises RuntimeError on bad torrents
        sys.stderr.write("lt_tool.py %s: %s: %s\n" % (args.cmd, type(exc).__name__, exc))
        return 1
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 1 if result.get("error") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
