#!/usr/bin/python3
"""lt_tool.py - libtorrent reference oracle for Shoal's interop tests and benchmarks.

Shoal's InteropTests (and bench/create-verify.sh) call this to compare Shoal's
torrent parsing, creation and verification against libtorrent-rasterbar 2.0.
It must run under the Debian interpreter, /usr/bin/python3, which is the one
that can `import libtorrent` (python3-libtorrent); the pyenv python3 on PATH can't.

Every subcommand prints one JSON object on stdout; errors go to stderr, exit 1
(exit 2 for bad usage); `check` also exits 1 when "error" is not null.
Everything is loopback-only: peers, trackers and DHT nodes on 127.0.0.1;
new HOST:PORT options (--bootstrap, --add-node, --dht-bootstrap, seed --peer,
download-magnet / fetch-metadata --peer) refuse anything but 127.x.x.x / ::1.

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
       [--trackers [--reannounce SECONDS]] [--events] [--peer HOST:PORT]
       [--upload-rate BYTES] [DISCOVERY]
      Seeds from SAVE_DIR on 127.0.0.1: prints {"port": N} at once (flushed),
      then runs until stdin closes or the timeout passes, and prints
      {"uploaded": bytes} on exit. With --trackers, {"port": N} waits for the
      answer (reply or error) to the first announce, at most 10 s: when the
      line comes, a tracker that replied already lists this seeder.
      --peer HOST:PORT (loopback only): the seeder connects out to that peer
      (connect_peer), again every 2 s while it has no peer at all - for a
      downloader that does not connect out itself, e.g. Transmission (see
      tr_tool.py: it never connects to 127.0.0.1). With --peer,
      min_reconnect_time is 1 s, not 60: connect_peer() only puts the endpoint
      into libtorrent's peer list, and a peer that was connected before is
      retried only after min_reconnect_time * (failcount + 1) seconds. A peer
      that is a seed itself (a finished downloader) drops the connection, so
      after a complete download the seeder keeps reconnecting every 2 s.
      --upload-rate BYTES: upload limit of the torrent (h.set_upload_limit),
      all peers together; keeps a swarm busy long enough for PEX to show
      (session-wide rate limits do not apply to loopback peers, which are in
      libtorrent's unlimited "local" peer class).

  download TORRENT SAVE_DIR [--peer HOST:PORT] [--timeout SECONDS] [--plain]
           [--trackers [--reannounce SECONDS]] [--events] [DISCOVERY]
      Downloads from that one peer (libtorrent connects out to it), and/or,
      with --trackers, from the peers the torrent's trackers return, and/or
      the peers DHT / LSD / PEX find (DISCOVERY below); at least one of
      --peer, --trackers, --dht, --lsd must be given (exit 2 otherwise):
      {"pieces", "have", "seeding", "error"}.
      --events: also prints a line on stderr (flushed) as things happen:
      "connecting to HOST:PORT" when an outgoing connection attempt starts
      (accepted incoming connections print nothing) and "download complete"
      once every piece has passed its hash check (bench/transfer.sh
      timestamps these). seed --events prints the same connection and
      tracker lines (a seeder connects out to peers a tracker names).

  A DHT node that libtorrent 2.0.8 talks to on loopback (measured with raw
  KRPC against dht-node): a query's "id" is not checked against 127.0.0.1
  (BEP 42 exempts local addresses; dht_enforce_node_id is off anyway); a
  query without "ro": 1 puts the sender into the routing table as an
  unconfirmed node, confirmed (counted in "dht nodes") when libtorrent pings
  it on a later 5 s tick and it answers; "ro": 1 keeps it out. A reply must
  echo "t" and carry r.id (20 bytes). libtorrent's own replies carry "ip"
  (the sender's compact address), r.p (the sender's port) and "v" "LT\x02\x08";
  its get_peers "nodes" may include the querying node itself; its token is 4
  bytes, derived from the querier's IP only (not the port: any 127.0.0.1
  node's token works for every other one) and valid for two secret rotations
  (5 min each); an announce_peer with a bad token gets
  {"y": "e", "e": [203, "invalid token"]} and, quirk, also an "r" with its id.
  Mind the DoS blocker: more than 50 packets in 10 s from one IP (all of
  loopback) and libtorrent ignores that IP for 5 minutes, unless it has a
  raised dht_block_ratelimit as every session of this tool has.

  Trackers (seed, download): by default the torrent's own trackers are
  stripped (override_trackers) and nothing is announced. --trackers keeps them
  and libtorrent announces to all of them, every tier (announce_to_all_tiers,
  announce_to_all_trackers), as soon as the torrent starts: "started", then
  "completed" when a download finishes, and "stopped" on exit (the torrent is
  paused first and the answers awaited, at most 2 s: libtorrent 2.0.8 loses a
  UDP tracker's "stopped" when the session just goes away; after a download
  the "completed" answer is awaited too, at most 3 s, or the "stopped" could
  overtake it). Loopback only, as everywhere here: listens on 127.0.0.1, DHT/
  LSD/UPnP/NAT-PMP/PEX off (DHT/LSD/PEX unless --dht/--lsd/--pex), allow_multiple_connections_per_ip on (every peer
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

  download-magnet MAGNET SAVE_DIR [--peer HOST:PORT] [--timeout SECONDS]
                  [--plain] [--trackers [--reannounce SECONDS]] [--events]
                  [DISCOVERY]
      Downloads a magnet link (lt.parse_magnet_uri): the metadata from the
      peers found (BEP 9, ut_metadata), then the data, as download does; at
      least one of --peer, --trackers, --dht, --lsd (exit 2 otherwise).
      Prints on stderr, flushed, always (not only with --events):
        metadata received SECONDS   (metadata_received_alert)
        first block SECONDS         (the first block_finished_alert: the first
                                     16 KiB block in and written, needs the
                                     block_progress alert category)
      SECONDS are since the torrent was added (after the session and, with
      --dht, its DHT have started), with millisecond resolution. On stdout
      {"pieces", "have", "seeding", "error", "metadataSeconds",
      "firstBlockSeconds"}: as download ("pieces" null and error "no metadata
      in time" if the metadata never came), the two timings null if the event
      did not happen. The magnet is trimmed to loopback: its trackers ("tr")
      are dropped unless --trackers, its web seeds ("ws") and DHT nodes ("dht",
      which libtorrent would add to the DHT) always, and only loopback "x.pe"
      peers are kept. min_reconnect_time is 1 s (see seed --peer). With --peer
      the metadata comes about 0.5 s in: libtorrent connects a connect_peer()
      endpoint at its next connection tick (DHT peers get a connect boost and
      come within milliseconds). Works for v1, hybrid and v2 magnets (a hybrid
      magnet has xt=urn:btih and xt=urn:btmh; libtorrent asks for both).

  fetch-metadata MAGNET OUT [--peer HOST:PORT] [--timeout SECONDS] [--plain]
                 [--trackers [--reannounce SECONDS]] [--events] [DISCOVERY]
      Only the metadata: adds the magnet (trimmed as above) in upload mode
      (ut_metadata still asks for the metadata, no piece is requested) with a
      temporary save folder that is removed, writes OUT as a .torrent that is
      just {"info": <the info dictionary exactly as received>} (the info-hash
      is the same; no trackers, and for v2/hybrid no "piece layers", which a
      magnet does not carry - libtorrent loads such a file and fetches the
      layers from peers) and prints {"out", "v1", "v2", "name", "pieceCount",
      "metadataSeconds", "error"}; "metadata received SECONDS" on stderr as
      above. Exit 1 if nothing came within the timeout (default 60 s).

  dht-node [--port N] [--bootstrap HOST:PORT]... [--add-node HOST:PORT]...
           [--timeout SECONDS]
      A libtorrent DHT node (a session with no torrent) on 127.0.0.1:N (UDP;
      it listens on TCP N too), N = any free port by default. Prints
      {"port": N} at once (flushed), then on stderr, flushed:
        dht nodes=N                  every second: the routing table size
                                     (session stats counter dht.dht_nodes,
                                     confirmed nodes only)
        dht announces accepted=A rejected=R
                                     when either changes: announce_peer
                                     queries stored / refused (bad token etc.),
                                     counters dht.dht_announce_peer_in and
                                     dht.dht_invalid_announce, cumulative
        and the DHT lines listed under DISCOVERY (announce-in, get-peers-in,
        bootstrapped). Runs until stdin closes or the timeout (default 300 s)
      passes, then prints {"nodes": N, "error": null}.
      --bootstrap HOST:PORT (repeatable; loopback only) goes into
      dht_bootstrap_nodes, --add-node HOST:PORT (repeatable; loopback only) to
      ses.add_dht_node() once the node runs. They are not the same:
        - a bootstrap node is a "router" node: libtorrent sends it the
          bootstrap lookup (a get_peers for its own ID) and, while the routing
          table holds fewer than 3 nodes, every other lookup too, but NEVER
          puts it into its routing table (not even after add_dht_node). The
          router learns the newcomer (it queried it); the newcomer learns only
          the nodes in the router's reply at that moment. So with
          --bootstrap A alone, nodes B, C, D started after A keep
          "dht nodes=0" (measured: 0 after 33 s) while A counts them; lookups
          and announces still work, through A.
        - add_dht_node pings the node; when it answers it goes into the
          routing table ("dht nodes=1" within ~1 s) but no lookup is made, so
          the newcomer learns the others only from later traffic (measured:
          B/C/D with --add-node A all knew each other after 10-11 s).
        - both (--bootstrap A --add-node A): the bootstrap lookup through A
          finds the nodes A knows at once (measured: A 3 nodes after 0.9 s,
          the last of B/C/D 2 nodes after 1.1 s, the others after 5 s and 10 s:
          libtorrent confirms nodes it only heard about on its 5 s refresh
          ticks); A itself never enters their tables (the router rule).
      "dht bootstrapped" is printed when a bootstrap lookup through routers
      ends (dht_bootstrap_alert); a node with no --bootstrap never prints it.
      libtorrent's bootstrap and refresh lookups are get_peers queries for
      (random-suffixed) node IDs, not find_node: a node must answer get_peers
      for any target with "nodes" (and a "token").

  DHT, LSD and PEX (DISCOVERY for seed, download, download-magnet,
  fetch-metadata): [--dht [--dht-bootstrap HOST:PORT]... [--dht-reannounce
  SECONDS]] [--lsd] [--pex]. All off by default, as before: the torrent is
  added with the torrent_flags disable_dht, disable_lsd and disable_pex (PEX
  is libtorrent's ut_pex plugin, which lt.session loads by default), and the
  session has enable_dht and enable_lsd False.
    --dht: the session is a DHT node on 127.0.0.1 (UDP, the listen port) with
      dht_bootstrap_nodes = the --dht-bootstrap nodes or "" (NEVER the default
      dht.libtorrent.org:25401: the whole DHT configuration is in the settings
      the session starts with), dht_restrict_routing_ips and
      dht_restrict_search_ips False (otherwise only one 127.0.0.1 node makes
      it into the routing table / a lookup), dht_enforce_node_id False (the
      default; BEP 42 IDs are not checked for 127.0.0.0/8 anyway) and
      dht_block_ratelimit 100000: libtorrent's DoS blocker counts packets per
      source IP, not per port, and ignores an IP that sends more than
      10 * dht_block_ratelimit (default 5) packets within 10 s for
      dht_block_timeout (300 s) - on loopback every node is 127.0.0.1, and
      50 quick pings got 127.0.0.1 banned ("BANNING PEER" in the DHT log).
      The tool waits (at most 5 s) for the DHT to run before it adds the
      torrent: with bootstrap nodes libtorrent starts the DHT only after their
      (asynchronous) name lookup, and a torrent added before that misses its
      start-up announce and next announces after dht_announce_interval (900 s)
      / number of torrents.
      The torrent announces as soon as it starts (libtorrent's prioritized
      DHT announce: a get_peers lookup, then announce_peer to the closest
      nodes that gave a token, port 0 + the listen port, "seed" set for a
      seed; a hybrid torrent announces its v1 and its truncated v2 info-hash),
      measured 0.1 s after start, once more ~4 s later, then every 900 s.
      Peers the lookup returns are connected at once, so a seeder that starts
      after a downloader still finds it (the downloader announced itself).
      --dht-reannounce SECONDS calls h.force_dht_announce() every SECONDS (the
      same lookup + announce), for a peer that may have looked before the one
      it needs had announced.
      --dht-bootstrap nodes are routers (see dht-node): a peer whose only
      contact is a bootstrap node keeps an empty routing table but still sends
      every lookup and announce there. libtorrent also announces to itself when
      the router's reply lists it (the router includes the querying node in
      its "nodes"), so "dht announce-in" lines name the tool's own port too.
    --lsd: local service discovery (BEP 14) on the 127.0.0.1 listen socket:
      it joins 239.192.152.143 on 127.0.0.1 (socket bound to 0.0.0.0:6771 with
      SO_REUSEADDR, so any number of sessions share it), sends with
      IP_MULTICAST_IF 127.0.0.1 and multicast loop on. That works on this
      machine's lo even though lo has no MULTICAST flag: no network namespace
      is needed, and nothing goes out on eth0 (checked: its tx counter did not
      move). Each torrent announces at start, 2 s and 6 s later, then every
      local_service_announce_interval / number of torrents seconds, set to 5 s
      here (default 300). A hybrid torrent announces both info-hashes. A
      session ignores its own announces (random "cookie" header) and accepts
      any from 127.0.0.1 (the sender's address + the "Port" header). The side
      that hears an announce connects out, so two LSD peers meet within a
      second in either start order (measured: 0.1 s, also with a seeder
      started 10 s earlier).
    --pex: ut_pex on. libtorrent sends a peer's first PEX message (the full
      list) on the 1 s peer tick once the torrent has 2 or more peers, then a
      diff at most every 60 s; it lists a peer only if it connected out to it
      or the peer gave its listen port ("p" in the extension handshake), and
      lists the receiving peer itself too, so peers connect to their own port
      and drop that at the handshake, as with trackers. Measured: with a
      seeder (--upload-rate 300000) and two downloaders connected to it, each
      downloader connected to the other via PEX 1.4-2 s after it joined.
      Receiving, libtorrent 2.0.8 takes "added" only when "added.f" is there
      with exactly one flags byte per peer (likewise "added6"/"added6.f"), and
      disconnects a peer that sends a 7th PEX message within 60 s.
    --events adds (DHT lines need --dht):
      dht bootstrapped                 a bootstrap lookup ended
      dht announce-out IH nodes=N      this peer sent announce_peer for IH (hex)
                                       to N nodes (from the DHT log)
      dht reply peers=N                a DHT lookup of this torrent returned N
                                       peers (dht_reply_alert; only N > 0)
      dht announce-in IH HOST:PORT     this node got an announce_peer query
                                       (dht_announce_alert: also for a bad
                                       token - libtorrent posts it before it
                                       checks the token)
      dht get-peers-in IH              this node got a get_peers query (also
                                       libtorrent's own bootstrap/refresh
                                       lookups: targets close to node IDs)
      peer source=S HOST:PORT          (with --dht, --lsd or --pex) the first
                                       time a connected peer shows up in
                                       h.get_peer_info(): S is its
                                       peer_info.source bits joined by "+":
                                       tracker, dht, pex, lsd, resume,
                                       incoming (0x20, accepted connection:
                                       HOST:PORT is then its ephemeral port),
                                       or "manual" (none: connect_peer/--peer);
                                       a short-lived connection may be missed
                                       (peers are polled every 0.1 s)

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


def _peer_session(plain=False, extra_alerts=0, trackers=False, dht=None, lsd=False, port=0, reconnect=False):
    """A session that exchanges data with peers on loopback only.

    plain: no MSE/PE, neither in nor out (see --plain in the docstring).
    extra_alerts: alert categories to enable on top of errors and status.
    trackers: settings for announcing to trackers on 127.0.0.1 (see --trackers).
    dht: None (DHT off) or the list of loopback bootstrap nodes ("HOST:PORT",
    maybe empty) for a DHT node on 127.0.0.1 (see DHT in the docstring).
    lsd: local service discovery on (see --lsd).
    port: the TCP and UDP (DHT) listen port, 0 = any free one.
    reconnect: min_reconnect_time 1 s instead of 60 s (see seed --peer)."""
    settings = {
        "listen_interfaces": "127.0.0.1:%d" % port,
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
    if dht is not None:
        settings.update(_dht_settings(dht))
        settings["alert_mask"] |= lt.alert.category_t.dht_notification
    if lsd:
        settings.update(_LSD_SETTINGS)
    if reconnect:
        # connect_peer() only adds the endpoint to the torrent's peer list; a
        # peer that was connected before is tried again only after
        # min_reconnect_time * (failcount + 1) seconds (default 60)
        settings["min_reconnect_time"] = 1
    # DHT, bootstrap list included, is configured in the same settings pack the
    # session starts with: a session that started with DHT on and the default
    # dht_bootstrap_nodes would contact dht.libtorrent.org at once.
    ses = lt.session(settings)
    if dht is not None:
        # With bootstrap nodes libtorrent starts the DHT only once their names
        # are "resolved" (asynchronously, even for IP literals). A torrent added
        # before that misses its initial DHT announce (prioritize_dht needs a
        # running DHT) and waits for the round-robin timer: dht_announce_interval
        # (900 s) / number of torrents. So wait for the DHT before any torrent.
        deadline = time.monotonic() + 5
        while not ses.is_dht_running() and time.monotonic() < deadline:
            time.sleep(0.01)
    return ses


def _dht_settings(bootstrap):
    """Settings for a libtorrent DHT node on 127.0.0.1 (dht-node, --dht)."""
    return {
        "enable_dht": True,
        # "" = no bootstrap at all; never the default (dht.libtorrent.org:25401)
        "dht_bootstrap_nodes": ",".join(bootstrap),
        # every node here is 127.0.0.1: without these only one node per IP (/24
        # for IPv4) gets into the routing table or into a lookup
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        # the default (False) already; 127.0.0.0/8 is exempt from BEP 42 anyway
        "dht_enforce_node_id": False,
        # libtorrent's DoS blocker counts DHT packets per source IP (not port):
        # more than 10 * dht_block_ratelimit (default 5) in 10 s and that IP is
        # ignored for dht_block_timeout (300 s). On loopback all nodes are one
        # IP, so a few busy nodes (or one chatty Shoal node) would get 127.0.0.1
        # banned; raise the limit far out of reach.
        "dht_block_ratelimit": 100000,
        "allow_multiple_connections_per_ip": True,
    }


# Local service discovery (BEP 14) on the 127.0.0.1 listen socket (--lsd).
_LSD_SETTINGS = {
    "enable_lsd": True,
    # libtorrent announces each torrent at start (3 datagrams, 0/2/6 s) and then
    # round-robin every local_service_announce_interval / number of torrents
    # seconds (default 300); a peer that starts later than 6 s after this one
    # hears of it only then (or announces itself, which makes this side connect)
    "local_service_announce_interval": 5,
}


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


def _add_peer_torrent(ses, args, extra_flags=None, atp=None):
    """Adds args.torrent (or the magnet's atp) for seed/download/download-magnet;
    --trackers keeps its own trackers, --dht/--lsd/--pex enable those per torrent."""
    if atp is None:
        atp = lt.add_torrent_params()
        atp.ti = _load_info(args.torrent)
    atp.save_path = os.path.abspath(args.save_dir)
    # the torrent_flags disable_* switch DHT, LSD and PEX off for this torrent
    # (PEX is libtorrent's ut_pex plugin, which lt.session loads by default)
    atp.flags = lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex
    if getattr(args, "dht", False):
        atp.flags &= ~lt.torrent_flags.disable_dht
    if getattr(args, "lsd", False):
        atp.flags &= ~lt.torrent_flags.disable_lsd
    if getattr(args, "pex", False):
        atp.flags &= ~lt.torrent_flags.disable_pex
    if extra_flags is not None:
        atp.flags |= extra_flags
    if not args.trackers:
        # override_trackers makes libtorrent ignore the torrent's own trackers
        atp.flags |= lt.torrent_flags.override_trackers
        atp.trackers = []
    return atp.ti, ses.add_torrent(atp)


def _endpoint(text):
    """"HOST:PORT" / "[::1]:PORT" -> (host, port)."""
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def _loopback_endpoint(text):
    """argparse type for --peer/--bootstrap/--add-node: a loopback HOST:PORT only
    (127.0.0.0/8 or ::1; "localhost" too), normalized to "HOST:PORT"."""
    try:
        host, port = _endpoint(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    if host == "localhost":
        host = "127.0.0.1"
    if not (host.startswith("127.") or host == "::1") or not 0 < port < 65536:
        raise argparse.ArgumentTypeError("only loopback HOST:PORT (127.x.x.x or ::1) is allowed, got %r" % text)
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def _discovery_alerts(args):
    """Extra alert categories seed/download/download-magnet need for --events."""
    mask = 0
    if args.events:
        mask |= lt.alert.category_t.connect_notification
        if getattr(args, "dht", False):
            # "sending announce_peer" is only in the DHT log (dht_log_alert)
            mask |= lt.alert.category_t.dht_log_notification
    return mask


# peer_info.source bits (torrent_peer::source); the binding lacks "incoming"
_PEER_SOURCES = (("tracker", lt.peer_info.tracker), ("dht", lt.peer_info.dht), ("pex", lt.peer_info.pex),
                 ("lsd", lt.peer_info.lsd), ("resume", lt.peer_info.resume_data), ("incoming", 0x20))


class _PeerSources:
    """--events with --dht/--lsd/--pex: one "peer source=S HOST:PORT" line per
    connected peer endpoint the first time h.get_peer_info() shows it."""

    def __init__(self, handle, enabled):
        self.handle = handle
        self.enabled = enabled
        self.seen = set()

    def tick(self):
        if not self.enabled:
            return
        try:
            peers = self.handle.get_peer_info()
        except RuntimeError:  # invalid handle while shutting down
            return
        for pi in peers:
            if pi.flags & lt.peer_info.handshake or pi.flags & lt.peer_info.connecting:
                continue  # not a BitTorrent peer (yet)
            key = (pi.ip[0], pi.ip[1])
            if key in self.seen:
                continue
            self.seen.add(key)
            names = [n for n, bit in _PEER_SOURCES if pi.source & bit]
            _event("peer source=%s %s" % ("+".join(names) or "manual", _fmt_ep(pi.ip)))


def _fmt_ep(ep):
    host, port = ep[0], ep[1]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def _dht_event(a):
    """One stderr line for a DHT alert; False if a is not one of them."""
    if isinstance(a, lt.dht_bootstrap_alert):
        _event("dht bootstrapped")
    elif isinstance(a, lt.dht_reply_alert):
        _event("dht reply peers=%d" % a.num_peers)
    elif isinstance(a, lt.dht_announce_alert):
        _event("dht announce-in %s %s" % (_hex(a.info_hash), _fmt_ep((str(a.ip), a.port))))
    elif isinstance(a, lt.dht_get_peers_alert):
        _event("dht get-peers-in %s" % _hex(a.info_hash))
    elif isinstance(a, lt.dht_log_alert):
        # node.cpp: "sending announce_peer [ ih: <hex>  p: <port> nodes: <n> ]"
        msg = a.log_message()
        if msg.startswith("sending announce_peer"):
            parts = msg.replace("[", " ").replace("]", " ").split()
            try:
                ih = parts[parts.index("ih:") + 1]
                nodes = int(parts[parts.index("nodes:") + 1])
            except (ValueError, IndexError):
                return True
            _event("dht announce-out %s nodes=%d" % (ih, nodes))
    else:
        return False
    return True


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
    ses = _peer_session(plain=args.plain, trackers=args.trackers, extra_alerts=_discovery_alerts(args),
                        dht=args.dht_bootstrap if args.dht else None, lsd=args.lsd, reconnect=bool(args.peer))
    _, h = _add_peer_torrent(ses, args, lt.torrent_flags.seed_mode)
    if args.upload_rate:
        # the torrent's own limit: session-wide limits do not apply to loopback
        # peers (libtorrent's "local" peer class is unlimited)
        h.set_upload_limit(args.upload_rate)
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
    dht_reannouncer = _DhtReannouncer(h, args.dht_reannounce)
    sources = _PeerSources(h, args.events and (args.dht or args.lsd or args.pex))
    peer = _endpoint(args.peer) if args.peer else None
    last_connect = 0.0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sys.stdin], [], [], 0.1 if args.events or peer else 0.5)
        if ready and not sys.stdin.read(1):
            break
        if peer and time.monotonic() - last_connect > 2 and h.status().num_peers == 0:
            h.connect_peer(peer)
            last_connect = time.monotonic()
        reannouncer.tick()
        dht_reannouncer.tick()
        sources.tick()
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
    ses = _peer_session(plain=args.plain, trackers=args.trackers, extra_alerts=_discovery_alerts(args),
                        dht=args.dht_bootstrap if args.dht else None, lsd=args.lsd)
    ti, h = _add_peer_torrent(ses, args)
    return _run_download(ses, h, args, lambda: ti)


def _run_download(ses, h, args, torrent_info, on_alert=None):
    """The download loop of download / download-magnet: until every piece is in
    or the timeout passes. torrent_info() is the torrent_info or None (magnet
    before the metadata); on_alert(a) sees every alert first."""
    peer = _endpoint(args.peer) if args.peer else None
    reannouncer = _Reannouncer(h, args.reannounce)
    dht_reannouncer = _DhtReannouncer(h, args.dht_reannounce)
    sources = _PeerSources(h, args.events and (args.dht or args.lsd or args.pex))
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
        dht_reannouncer.tick()
        sources.tick()
        ses.wait_for_alert(200 if not sources.enabled else 100)
        for a in ses.pop_alerts():
            if on_alert is not None:
                on_alert(a)
            if args.events:
                _peer_event(a)
    sources.tick()
    st = h.status()
    if args.trackers:
        _announce_stopped(ses, h, args.events)
    ti = torrent_info()
    return {"pieces": ti.num_pieces() if ti is not None else None, "have": st.num_pieces,
            "seeding": st.is_seeding, "error": None if st.is_seeding else "did not finish in time"}


class _DhtReannouncer:
    """--dht-reannounce SECONDS: force_dht_announce() every SECONDS (a get_peers
    lookup plus announce_peer to the closest nodes that gave a token)."""

    def __init__(self, handle, seconds):
        self.handle = handle
        self.seconds = seconds
        self.last = time.monotonic()

    def tick(self):
        if self.seconds and time.monotonic() - self.last >= self.seconds:
            self.handle.force_dht_announce()
            self.last = time.monotonic()


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
    elif not _tracker_event(a):
        _dht_event(a)


def cmd_dht_node(args):
    """A DHT node on 127.0.0.1 that runs until stdin closes or the timeout passes.

    Prints {"port": N} at once, "dht nodes=N" on stderr every second, and on
    exit {"nodes": N, "error": null}."""
    ses = _peer_session(dht=args.bootstrap or [], port=args.port or 0)
    deadline = time.monotonic() + 10
    while ses.listen_port() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if ses.listen_port() == 0:
        raise RuntimeError("libtorrent did not listen on 127.0.0.1:%d" % (args.port or 0))
    for node in args.add_node or []:
        ses.add_dht_node(_endpoint(node))
    sys.stdout.write(json.dumps({"port": ses.listen_port()}) + "\n")
    sys.stdout.flush()
    nodes = 0
    announces = (0, 0)
    deadline = time.monotonic() + args.timeout
    next_stats = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sys.stdin], [], [], 0.1)
        if ready and not sys.stdin.read(1):
            break
        if time.monotonic() >= next_stats:
            ses.post_session_stats()
            next_stats += 1.0
        for a in ses.pop_alerts():
            if isinstance(a, lt.session_stats_alert):
                values = a.values
                nodes = values.get("dht.dht_nodes", 0)
                _event("dht nodes=%d" % nodes)
                now = (values.get("dht.dht_announce_peer_in", 0), values.get("dht.dht_invalid_announce", 0))
                if now != announces:
                    announces = now
                    _event("dht announces accepted=%d rejected=%d" % now)
            else:
                _dht_event(a)
    return {"nodes": nodes, "error": None}


def _magnet_params(args):
    """lt.parse_magnet_uri(args.magnet), trimmed to loopback: the magnet's
    trackers go unless --trackers, its web seeds ("ws") and DHT nodes ("dht")
    always, and of its peers ("x.pe") only loopback ones stay."""
    atp = lt.parse_magnet_uri(args.magnet)
    atp.url_seeds = []
    atp.dht_nodes = []
    atp.peers = [p for p in atp.peers if p[0].startswith("127.") or p[0] == "::1"]
    if not args.trackers:
        atp.trackers = []
    return atp


class _MagnetWatch:
    """Times metadata_received_alert and the first block_finished_alert."""

    def __init__(self, start):
        self.start = start
        self.metadata = None
        self.first_block = None

    def __call__(self, a):
        if isinstance(a, lt.metadata_received_alert) and self.metadata is None:
            self.metadata = time.monotonic() - self.start
            _event("metadata received %.3f" % self.metadata)
        elif isinstance(a, lt.block_finished_alert) and self.first_block is None:
            self.first_block = time.monotonic() - self.start
            _event("first block %.3f" % self.first_block)


def cmd_download_magnet(args):
    """Downloads a magnet link into SAVE_DIR: the metadata (BEP 9) from the peers
    found, then the data, like download."""
    atp = _magnet_params(args)
    ses = _peer_session(plain=args.plain, trackers=args.trackers,
                        extra_alerts=_discovery_alerts(args) | lt.alert.category_t.block_progress_notification,
                        dht=args.dht_bootstrap if args.dht else None, lsd=args.lsd, reconnect=True)
    watch = _MagnetWatch(time.monotonic())
    _, h = _add_peer_torrent(ses, args, atp=atp)
    result = _run_download(ses, h, args, lambda: h.torrent_file() if h.status().has_metadata else None,
                           on_alert=watch)
    if result["pieces"] is None and result["error"]:
        result["error"] = "no metadata in time"
    result["metadataSeconds"] = None if watch.metadata is None else round(watch.metadata, 3)
    result["firstBlockSeconds"] = None if watch.first_block is None else round(watch.first_block, 3)
    return result


def cmd_fetch_metadata(args):
    """Fetches only a magnet's metadata and writes it to OUT as a .torrent."""
    atp = _magnet_params(args)
    ses = _peer_session(plain=args.plain, trackers=args.trackers, extra_alerts=_discovery_alerts(args),
                        dht=args.dht_bootstrap if args.dht else None, lsd=args.lsd, reconnect=True)
    tmp = tempfile.mkdtemp(prefix="lt_tool-metadata-")
    try:
        args.save_dir = tmp
        # upload_mode: libtorrent asks for the metadata but for no piece
        _, h = _add_peer_torrent(ses, args, lt.torrent_flags.upload_mode, atp=atp)
        start = time.monotonic()
        peer = _endpoint(args.peer) if args.peer else None
        dht_reannouncer = _DhtReannouncer(h, args.dht_reannounce)
        sources = _PeerSources(h, args.events and (args.dht or args.lsd or args.pex))
        reannouncer = _Reannouncer(h, args.reannounce)
        last_connect = 0.0
        seconds = None
        deadline = start + args.timeout
        while seconds is None and time.monotonic() < deadline:
            if peer and time.monotonic() - last_connect > 2 and h.status().num_peers == 0:
                h.connect_peer(peer)
                last_connect = time.monotonic()
            reannouncer.tick()
            dht_reannouncer.tick()
            sources.tick()
            ses.wait_for_alert(100)
            for a in ses.pop_alerts():
                if isinstance(a, lt.metadata_received_alert):
                    seconds = time.monotonic() - start
                    _event("metadata received %.3f" % seconds)
                elif args.events:
                    _peer_event(a)
        if seconds is None:
            raise RuntimeError("no metadata within %g s" % args.timeout)
        ti = h.torrent_file()
        # the info dictionary exactly as received (its SHA-1 is the info-hash);
        # nothing else: a magnet has no "piece layers" to add for v2
        data = b"d4:info" + ti.info_section() + b"e"
        with open(args.out, "wb") as f:
            f.write(data)
        v1, v2 = _hashes(ti)
        if args.trackers:
            _announce_stopped(ses, h, args.events)
        ses.remove_torrent(h)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"out": args.out, "v1": v1, "v2": v2, "name": ti.name(), "pieceCount": ti.num_pieces(),
            "metadataSeconds": round(seconds, 3), "error": None}


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


def _discovery_args(sp):
    sp.add_argument("--dht", action="store_true", help="DHT on (loopback node, see DHT in the docstring)")
    sp.add_argument("--dht-bootstrap", action="append", type=_loopback_endpoint, metavar="HOST:PORT",
                    help="with --dht: a loopback DHT node for dht_bootstrap_nodes (repeatable)")
    sp.add_argument("--dht-reannounce", type=float, metavar="SECONDS",
                    help="with --dht: force_dht_announce() every SECONDS")
    sp.add_argument("--lsd", action="store_true", help="local service discovery on (multicast on lo)")
    sp.add_argument("--pex", action="store_true", help="peer exchange (ut_pex) on")


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
    ps.add_argument("--peer", type=_loopback_endpoint,
                    help="loopback HOST:PORT to connect out to (e.g. a Transmission downloader)")
    ps.add_argument("--upload-rate", type=int, metavar="BYTES",
                    help="upload limit in bytes per second for this torrent (all peers together)")
    _peer_tracker_args(ps)
    _discovery_args(ps)
    ps.set_defaults(fn=cmd_seed)

    pd = sub.add_parser("download")
    pd.add_argument("torrent")
    pd.add_argument("save_dir")
    pd.add_argument("--peer", help="HOST:PORT to connect to (needed unless --trackers, --dht or --lsd)")
    pd.add_argument("--timeout", type=float, default=120.0)
    pd.add_argument("--plain", action="store_true", help="no MSE/PE encryption, in or out")
    _peer_tracker_args(pd)
    _discovery_args(pd)
    pd.set_defaults(fn=cmd_download)

    # The two magnet commands differ in their second argument, default timeout and what they do.
    for name, target, timeout, fn in (("download-magnet", "save_dir", 120.0, cmd_download_magnet),
                                      ("fetch-metadata", "out", 60.0, cmd_fetch_metadata)):
        pm = sub.add_parser(name)
        pm.add_argument("magnet")
        pm.add_argument(target)
        pm.add_argument("--peer", type=_loopback_endpoint, help="loopback HOST:PORT to connect to")
        pm.add_argument("--timeout", type=float, default=timeout)
        pm.add_argument("--plain", action="store_true", help="no MSE/PE encryption, in or out")
        _peer_tracker_args(pm)
        _discovery_args(pm)
        pm.set_defaults(fn=fn)

    pn = sub.add_parser("dht-node")
    pn.add_argument("--port", type=int, default=0, help="UDP (and TCP) port on 127.0.0.1; 0 = any free one")
    pn.add_argument("--bootstrap", action="append", type=_loopback_endpoint, metavar="HOST:PORT",
                    help="a loopback DHT node for dht_bootstrap_nodes (repeatable)")
    pn.add_argument("--add-node", action="append", type=_loopback_endpoint, metavar="HOST:PORT",
                    help="a loopback DHT node for add_dht_node (repeatable)")
    pn.add_argument("--timeout", type=float, default=300.0)
    pn.set_defaults(fn=cmd_dht_node)

    pt = sub.add_parser("scrape")
    pt.add_argument("torrent")
    pt.add_argument("--timeout", type=float, default=30.0)
    pt.set_defaults(fn=cmd_scrape)

    args = p.parse_args(argv)
    if args.cmd in ("seed", "download", "download-magnet", "fetch-metadata"):
        if args.reannounce and not args.trackers:
            p.error("--reannounce needs --trackers")
        if args.reannounce is not None and args.reannounce <= 0:
            p.error("--reannounce needs a positive number of seconds")
        if (args.dht_bootstrap or args.dht_reannounce) and not args.dht:
            p.error("--dht-bootstrap and --dht-reannounce need --dht")
        if args.dht_reannounce is not None and args.dht_reannounce <= 0:
            p.error("--dht-reannounce needs a positive number of seconds")
        args.dht_bootstrap = args.dht_bootstrap or []
    if args.cmd == "download" and not (args.peer or args.trackers or args.dht or args.lsd):
        p.error("download needs --peer HOST:PORT, --trackers, --dht or --lsd")
    if args.cmd in ("download-magnet", "fetch-metadata") and not (args.peer or args.trackers or args.dht or args.lsd):
        p.error("%s needs --peer HOST:PORT, --trackers, --dht or --lsd" % args.cmd)
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
