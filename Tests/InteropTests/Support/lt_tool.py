#!/usr/bin/python3
"""lt_tool.py - libtorrent reference oracle for Shoal's interop tests and benchmarks.

Shoal's InteropTests (and bench/create-verify.sh) call this to compare Shoal's
torrent parsing, creation and verification against libtorrent-rasterbar 2.0.
It must run under the Debian interpreter, /usr/bin/python3, which is the one
that can `import libtorrent` (python3-libtorrent); the pyenv python3 on PATH can't.

Every subcommand prints one JSON object on stdout; errors go to stderr, exit 1
(exit 2 for bad usage); `check` also exits 1 when "error" is not null.

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
      Seeds from SAVE_DIR on 127.0.0.1: prints {"port": N} at once (flushed),
      then runs until stdin closes or the timeout passes, and prints
      {"uploaded": bytes} on exit.

  download TORRENT SAVE_DIR --peer HOST:PORT [--timeout SECONDS] [--plain]
           [--events]
      Downloads from that one peer (libtorrent connects out to it):
      {"pieces", "have", "seeding", "error"}.
      --events: also prints a line on stderr (flushed) as things happen:
      "connecting to HOST:PORT" when an outgoing connection attempt starts
      and "download complete" once every piece has passed its hash check
      (bench/transfer.sh timestamps these).

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
import sys
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


def _peer_session(plain=False, extra_alerts=0):
    """A session that exchanges data with peers on loopback only.

    plain: no MSE/PE, neither in nor out (see --plain in the docstring).
    extra_alerts: alert categories to enable on top of errors and status."""
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
    return lt.session(settings)


def cmd_seed(args):
    """Seeds TORRENT from SAVE_DIR on 127.0.0.1 until stdin closes or the timeout passes.

    Prints {"port": N} as soon as the session listens (stdout is flushed), then,
    on exit, one more line with the bytes uploaded."""
    ti = _load_info(args.torrent)
    ses = _peer_session(plain=args.plain)
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = os.path.abspath(args.save_dir)
    atp.flags = (lt.torrent_flags.seed_mode | lt.torrent_flags.override_trackers
                 | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex)
    atp.trackers = []
    h = ses.add_torrent(atp)
    deadline = time.monotonic() + 10
    while ses.listen_port() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    sys.stdout.write(json.dumps({"port": ses.listen_port()}) + "\n")
    sys.stdout.flush()
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sys.stdin], [], [], 0.5)
        if ready and not sys.stdin.read(1):
            break
        ses.pop_alerts()
    st = h.status()
    return {"uploaded": st.total_upload, "error": None}


def cmd_download(args):
    """Downloads TORRENT into SAVE_DIR from the one peer given (libtorrent connects out to it)."""
    ti = _load_info(args.torrent)
    ses = _peer_session(plain=args.plain,
                        extra_alerts=lt.alert.category_t.connect_notification if args.events else 0)
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = os.path.abspath(args.save_dir)
    atp.flags = (lt.torrent_flags.override_trackers | lt.torrent_flags.disable_dht
                 | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex)
    atp.trackers = []
    h = ses.add_torrent(atp)
    host, port = args.peer.rsplit(":", 1)
    deadline = time.monotonic() + args.timeout
    last_connect = 0.0
    while time.monotonic() < deadline:
        st = h.status()
        if st.is_seeding:
            if args.events:
                _event("download complete")
            break
        if time.monotonic() - last_connect > 2 and st.num_peers == 0:
            h.connect_peer((host.strip("[]"), int(port)))
            last_connect = time.monotonic()
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if args.events and isinstance(a, lt.peer_connect_alert):
                _event("connecting to %s:%d" % (a.endpoint[0], a.endpoint[1]))
    st = h.status()
    return {"pieces": ti.num_pieces(), "have": st.num_pieces, "seeding": st.is_seeding,
            "error": None if st.is_seeding else "did not finish in time"}


def _event(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


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
    ps.set_defaults(fn=cmd_seed)

    pd = sub.add_parser("download")
    pd.add_argument("torrent")
    pd.add_argument("save_dir")
    pd.add_argument("--peer", required=True)
    pd.add_argument("--timeout", type=float, default=120.0)
    pd.add_argument("--plain", action="store_true", help="no MSE/PE encryption, in or out")
    pd.add_argument("--events", action="store_true",
                    help="print 'connecting to HOST:PORT' and 'download complete' on stderr as they happen")
    pd.set_defaults(fn=cmd_download)

    args = p.parse_args(argv)
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
