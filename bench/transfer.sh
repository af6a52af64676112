#!/usr/bin/env bash
# bench/transfer.sh - download speed, CPU time and peak memory of one torrent
# moved over loopback between Shoal and libtorrent, in all four pairings:
#   Shoal → Shoal, libtorrent → libtorrent, libtorrent → Shoal, Shoal → libtorrent
# ("A → B": A seeds, B downloads; B connects to A, one connection).
#
# Usage: bench/transfer.sh
# Environment:
#   SHOAL=path        shoal binary (default .build/release/shoal; built with
#                     `swift build -c release --product shoal` if missing)
#   BENCH_SIZE=n      payload size in MiB (default 1024): one random file,
#                     single-file v1 torrent made by `shoal create --v1`
#   PIECE_SIZE=s      piece size for `shoal create --piece-size` (default 1m)
#   BENCH_DIR=path    make the temp folder in here (default $TMPDIR or /tmp);
#                     it needs room for twice the payload
#   REPEAT=n          run every pairing n times (interleaved) and keep the
#                     fastest run of each (default 1)
#   TIMEOUT=s         give up on a download after s seconds (default 600)
#   CHECK=0           don't compare the downloaded file with the payload
#   KEEP=1            keep the temp folder (payload, torrent, logs) and print
#                     its path
# Exit status: 0 if every transfer succeeded, 1 if one failed, 2 on bad setup.
#
# Per pairing (the fastest run if REPEAT > 1):
#   MB/s        payload bytes (10^6) / transfer time, where the transfer time
#               runs from the downloader's first connection to its "download
#               complete" (both from its stderr, timestamped as they come:
#               Shoal logs "connected to" after the handshake, lt_tool.py
#               --events "connecting to" when the TCP connect starts)
#   MB/s wall   payload bytes / downloader wall time (process start to exit:
#               includes start-up, torrent loading, the connection and, for
#               libtorrent, Python start-up and session teardown)
#   CPU s       user+sys of the downloader and of the seeder process, seeder
#               from start to stop (after the download), so it includes the
#               seeder's hashing: `shoal seed` verifies all data before it
#               listens, libtorrent (seed_mode) hashes each piece before it
#               first uploads it
#   RSS MiB     peak resident set (ru_maxrss) of each process, and in
#               brackets the peak anonymous resident memory (RssAnon, sampled
#               every 50 ms): libtorrent 2.0 mmaps the torrent's files, so its
#               RSS counts every page of the payload it touched (page cache,
#               not its own memory); Shoal uses pread/pwrite. libtorrent's
#               numbers include the Python interpreter and its bindings
#               (lt_tool.py): about 25 MiB RSS, 10 MiB anonymous
# Each process runs under bench/rusage.py (os.wait4 rusage, also right for a
# seeder stopped by a signal). libtorrent runs lt_tool.py with --plain: no
# MSE/PE encryption, in or out, on both sides of libtorrent → libtorrent too.
# Shoal does not speak MSE, and libtorrent's default (try MSE, reconnect plain
# when that fails) costs about a second per connection; otherwise libtorrent
# runs with its default settings (lt_tool.py's loopback-only session: no DHT,
# LSD, UPnP, NAT-PMP or uTP). The payload stays in the page cache (read once
# before the first run); each downloaded copy is deleted after its run.
# Traffic is loopback only: every peer connection is to 127.0.0.1 (libtorrent
# also listens on 127.0.0.1 only; `shoal seed` listens on all interfaces).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
lt_tool="$root/Tests/InteropTests/Support/lt_tool.py"
rusage="$here/rusage.py"
# shellcheck source=common.sh
source "$here/common.sh"
py=/usr/bin/python3
size_mib=${BENCH_SIZE:-1024}
piece=${PIECE_SIZE:-1m}
repeat=${REPEAT:-1}
timeout=${TIMEOUT:-600}

die() { echo "transfer.sh: $*" >&2; exit 2; }

[[ -x $py ]] || die "$py not found"
[[ -f $lt_tool ]] || die "$lt_tool not found"
[[ -f $rusage ]] || die "$rusage not found"
"$py" -c 'import libtorrent' 2>/dev/null || die "$py cannot import libtorrent (install python3-libtorrent)"
[[ $size_mib =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZE must be a positive whole number of MiB"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT must be a positive whole number of seconds"

# --- shoal binary ----------------------------------------------------------
shoal=$(shoal_binary "$root")

# --- temp folder, processes, cleanup ---------------------------------------
parent=${BENCH_DIR:-${TMPDIR:-/tmp}}
[[ -d $parent ]] || die "BENCH_DIR=$parent is not a folder"
work=$(mktemp -d "$parent/shoal-transfer.XXXXXX")
live=()   # pids of rusage.py wrappers still running
stop_all() {
    local pid i
    for pid in "${live[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${live[@]}"; do
        for (( i = 0; i < 50; i++ )); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true   # its child dies with it (PR_SET_PDEATHSIG)
        wait "$pid" 2>/dev/null || true
    done
    live=()
}
cleanup() {
    stop_all
    remove_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- payload and torrent ----------------------------------------------------
size=$(( size_mib * 1024 * 1024 ))
avail_kib=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
if [[ -n $avail_kib ]] && (( avail_kib * 1024 < size * 2 + 64 * 1024 * 1024 )); then
    die "$work has $((avail_kib / 1024)) MiB free; it needs twice the payload ($((2 * size_mib)) MiB)"
fi
mem_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo 2>/dev/null || echo 0)
if (( mem_kib > 0 && mem_kib * 1024 < size * 3 )); then
    echo "warning: only $((mem_kib / 1024)) MiB of memory available; the payload and its copy may not stay cached" >&2
fi

mkdir "$work/data" "$work/logs"
data=$work/data/payload.bin
torrent=$work/payload.torrent
echo "making ${size_mib} MiB of random data in $work..." >&2
head -c "$size" /dev/urandom >"$data"
"$shoal" create "$data" --v1 --piece-size "$piece" --no-date -o "$torrent" >"$work/logs/create.log" 2>&1 \
    || { cat "$work/logs/create.log" >&2; die "shoal create failed"; }
pieces=$("$py" "$lt_tool" info "$torrent" | "$py" -c 'import json, sys; d = json.load(sys.stdin); print(d["pieceCount"], d["pieceLength"])') \
    || die "libtorrent cannot read the torrent"
read -r piece_count piece_length <<<"$pieces"
cat "$data" >/dev/null   # into the page cache

# --- one transfer -----------------------------------------------------------
# field NAME FILE: the value of NAME=... in a rusage.py report
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$2"; }
# mib KIB: KiB to whole MiB
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
# stamp REGEX FILE: seconds of the first stamped line matching REGEX
stamp() { awk -F '\t' -v re="$1" '$2 ~ re { print $1; exit }' "$2"; }

# Results of the last transfer (set by transfer): r_note empty means success.
r_mbs="" r_mbs_wall="" r_active="" r_wall="" r_dl_cpu="" r_seed_cpu="" r_dl_rss="" r_seed_rss="" r_dl_anon="" r_seed_anon="" r_note=""

# transfer SEEDER DOWNLOADER LABEL: SEEDER and DOWNLOADER are shoal or lt
transfer() {
    local seeder=$1 downloader=$2 label=$3
    local log=$work/logs/$label out=$work/out port="" seed_pid dl_pid rc i line
    r_mbs="" r_mbs_wall="" r_active="" r_wall="" r_dl_cpu="" r_seed_cpu="" r_dl_rss="" r_seed_rss="" r_dl_anon="" r_seed_anon="" r_note=""
    rm -rf -- "$out" "$log".*
    mkdir "$out"

    # seeder, in the background, until told to stop
    if [[ $seeder == shoal ]]; then
        "$py" "$rusage" --out "$log.seed.rusage" --stop int -- \
            "$shoal" seed "$torrent" "$work/data" --port 0 --no-lsd --no-dht >"$log.seed.out" 2>"$log.seed.err" &
    else
        "$py" "$rusage" --out "$log.seed.rusage" --stop stdin -- \
            "$py" "$lt_tool" seed "$torrent" "$work/data" --plain --timeout "$(( timeout * 2 + 600 ))" \
            >"$log.seed.out" 2>"$log.seed.err" &
    fi
    seed_pid=$!
    live+=("$seed_pid")
    for (( i = 0; i < 3000; i++ )); do   # up to 5 minutes (shoal seed verifies the data first)
        line=$(head -n 1 "$log.seed.out" 2>/dev/null || true)
        if [[ $line =~ ^listening\ on\ port\ ([0-9]+)$ || $line =~ ^\{\"port\":\ ([0-9]+)\}$ ]]; then
            port=${BASH_REMATCH[1]}
            break
        fi
        kill -0 "$seed_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z $port || $port == 0 ]]; then
        r_note="FAILED: seeder did not start"
        echo "$label: seeder did not start; its output:" >&2
        tail -n 5 "$log.seed.out" "$log.seed.err" >&2 || true
        stop_all
        return
    fi

    # downloader (in the background too, so that a signal to this script
    # stops the wait at once and cleanup stops the downloader)
    if [[ $downloader == shoal ]]; then
        "$py" "$rusage" --out "$log.dl.rusage" --stamp "$log.dl.stamp" --stop int --timeout "$timeout" -- \
            "$shoal" download "$torrent" -o "$out" --peer "127.0.0.1:$port" --no-lsd --no-dht \
            >"$log.dl.out" 2>"$log.dl.err" &
    else
        "$py" "$rusage" --out "$log.dl.rusage" --stamp "$log.dl.stamp" --stop int --timeout "$timeout" -- \
            "$py" "$lt_tool" download "$torrent" "$out" --peer "127.0.0.1:$port" --plain --events \
            --timeout "$timeout" >"$log.dl.out" 2>"$log.dl.err" &
    fi
    dl_pid=$!
    live+=("$dl_pid")
    rc=0
    wait "$dl_pid" || rc=$?
    live=("$seed_pid")

    # stop the seeder: SIGINT for shoal seed, stdin closed for lt_tool.py seed
    # (rusage.py does either on SIGTERM, and SIGKILLs on a second one)
    kill -TERM "$seed_pid" 2>/dev/null || true
    for (( i = 0; i < 300; i++ )); do
        kill -0 "$seed_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$seed_pid" 2>/dev/null; then
        echo "$label: the seeder did not stop within 30 s of being told to; killed" >&2
        kill -TERM "$seed_pid" 2>/dev/null || true
    fi
    wait "$seed_pid" 2>/dev/null || true
    live=()

    if (( rc != 0 )) || [[ ! -s $log.dl.rusage ]]; then
        r_note="FAILED: downloader exit $rc"
        [[ -s $log.dl.rusage && $(field timeout "$log.dl.rusage") == 1 ]] && r_note="FAILED: timeout after ${timeout}s"
        echo "$label: downloader failed (exit $rc); its output:" >&2
        tail -n 5 "$log.dl.out" "$log.dl.err" >&2 || true
        echo "seeder's stderr:" >&2
        tail -n 5 "$log.seed.err" >&2 || true
    elif [[ ${CHECK:-1} != 0 ]] && ! cmp -s "$data" "$out/payload.bin"; then
        r_note="FAILED: downloaded file differs from the payload"
        echo "$label: $r_note" >&2
    fi
    rm -rf -- "$out"
    [[ -n $r_note ]] && return

    local t0 t1 wall
    t0=$(stamp '^(connected|connecting) to ' "$log.dl.stamp")
    t1=$(stamp '^download complete' "$log.dl.stamp")
    wall=$(field wall "$log.dl.rusage")
    r_wall=$(awk -v w="$wall" 'BEGIN { printf "%.3f", w }')
    r_mbs_wall=$(awk -v b="$size" -v w="$wall" 'BEGIN { printf "%.1f", b / 1e6 / w }')
    if [[ -n $t0 && -n $t1 ]] && awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b > a) }'; then
        r_active=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        r_mbs=$(awk -v s="$size" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", s / 1e6 / (b - a) }')
    else
        r_active=- r_mbs=-
        echo "$label: no connect/complete lines in the downloader's stderr; only wall time" >&2
    fi
    r_dl_cpu=$(awk -v u="$(field user "$log.dl.rusage")" -v s="$(field sys "$log.dl.rusage")" 'BEGIN { printf "%.2f", u + s }')
    r_dl_rss=$(mib "$(field maxrss_kib "$log.dl.rusage")")
    r_dl_anon=$(mib "$(field maxanon_kib "$log.dl.rusage")")
    if [[ -s $log.seed.rusage ]]; then
        r_seed_cpu=$(awk -v u="$(field user "$log.seed.rusage")" -v s="$(field sys "$log.seed.rusage")" 'BEGIN { printf "%.2f", u + s }')
        r_seed_rss=$(mib "$(field maxrss_kib "$log.seed.rusage")")
        r_seed_anon=$(mib "$(field maxanon_kib "$log.seed.rusage")")
    else
        r_seed_cpu=- r_seed_rss=- r_seed_anon=-
    fi
}

# --- runs -------------------------------------------------------------------
labels=("Shoal → Shoal" "libtorrent → libtorrent" "libtorrent → Shoal" "Shoal → libtorrent")
seeders=(shoal lt lt shoal)
downloaders=(shoal lt shoal lt)
files=(shoal-shoal lt-lt lt-shoal shoal-lt)
b_mbs=() b_mbs_wall=() b_active=() b_wall=() b_dl_cpu=() b_seed_cpu=() b_dl_rss=() b_seed_rss=() b_dl_anon=() b_seed_anon=() b_note=()
for i in "${!labels[@]}"; do
    b_mbs[i]=- b_mbs_wall[i]=- b_active[i]=- b_wall[i]=- b_dl_cpu[i]=- b_seed_cpu[i]=- b_dl_rss[i]=- b_seed_rss[i]=- b_dl_anon[i]=- b_seed_anon[i]=- b_note[i]=""
done

# speed KEY: the number a run is ranked by (transfer MB/s, else wall MB/s)
speed() { if [[ $1 != - ]]; then echo "$1"; else echo "$2"; fi; }

echo "transferring ($repeat run(s) per pairing, fastest kept)..." >&2
for (( r = 1; r <= repeat; r++ )); do
    for i in "${!labels[@]}"; do
        transfer "${seeders[i]}" "${downloaders[i]}" "${files[i]}"
        if [[ -n $r_note ]]; then
            printf '  %-26s run %d: %s\n' "${labels[i]}" "$r" "$r_note" >&2
            [[ ${b_wall[i]} == - ]] && b_note[i]=$r_note
            continue
        fi
        printf '  %-26s run %d: %s MB/s (wall %s s, %s MB/s)\n' "${labels[i]}" "$r" "$r_mbs" "$r_wall" "$r_mbs_wall" >&2
        new=$(speed "$r_mbs" "$r_mbs_wall")
        old=$(speed "${b_mbs[i]}" "${b_mbs_wall[i]}")
        if [[ $old == - ]] || awk -v a="$new" -v b="$old" 'BEGIN { exit !(a > b) }'; then
            b_mbs[i]=$r_mbs b_mbs_wall[i]=$r_mbs_wall b_active[i]=$r_active b_wall[i]=$r_wall
            b_dl_cpu[i]=$r_dl_cpu b_seed_cpu[i]=$r_seed_cpu b_dl_rss[i]=$r_dl_rss b_seed_rss[i]=$r_seed_rss
            b_dl_anon[i]=$r_dl_anon b_seed_anon[i]=$r_seed_anon
            b_note[i]=""
        fi
    done
done

# --- report -------------------------------------------------------------------
lt_version=$("$py" -c 'import libtorrent; print(libtorrent.__version__)' 2>/dev/null || echo "?")
shoal_version=$("$shoal" --version 2>/dev/null || echo "?")
echo
printf 'payload: %d MiB (%d bytes), single-file v1 torrent, %d pieces of %d bytes; loopback, %s CPU(s)\n' \
    "$size_mib" "$size" "$piece_count" "$piece_length" "$(nproc)"
printf 'shoal %s (%s), libtorrent %s (lt_tool.py --plain); %d run(s) per pairing, fastest kept\n' \
    "$shoal_version" "$shoal" "$lt_version" "$repeat"
echo
echo "| seeder → downloader | MB/s | MB/s wall | transfer s | wall s | downloader CPU s | seeder CPU s | downloader RSS MiB (anon) | seeder RSS MiB (anon) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
failed=0
for i in "${!labels[@]}"; do
    if [[ -n ${b_note[i]} ]]; then
        failed=1
        printf '| %s | %s | - | - | - | - | - | - | - |\n' "${labels[i]}" "${b_note[i]}"
        continue
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${labels[i]}" "${b_mbs[i]}" "${b_mbs_wall[i]}" \
        "${b_active[i]}" "${b_wall[i]}" "${b_dl_cpu[i]}" "${b_seed_cpu[i]}" \
        "${b_dl_rss[i]} (${b_dl_anon[i]})" "${b_seed_rss[i]} (${b_seed_anon[i]})"
done
echo
# ratio A B: A / B, or - when either is missing
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'; }
if [[ -z ${b_note[0]} && -z ${b_note[1]} ]]; then
    ss_cpu=$(awk -v a="${b_dl_cpu[0]}" -v b="${b_seed_cpu[0]}" 'BEGIN { if (b == "-") print "-"; else printf "%.2f", a + b }')
    ll_cpu=$(awk -v a="${b_dl_cpu[1]}" -v b="${b_seed_cpu[1]}" 'BEGIN { if (b == "-") print "-"; else printf "%.2f", a + b }')
    echo "Shoal → Shoal relative to libtorrent → libtorrent (above 1 means Shoal's number is higher):"
    echo "- speed: $(ratio "${b_mbs[0]}" "${b_mbs[1]}")x (wall: $(ratio "${b_mbs_wall[0]}" "${b_mbs_wall[1]}")x)"
    echo "- CPU: downloader $(ratio "${b_dl_cpu[0]}" "${b_dl_cpu[1]}")x, seeder $(ratio "${b_seed_cpu[0]}" "${b_seed_cpu[1]}")x, both $(ratio "$ss_cpu" "$ll_cpu")x"
    echo "- peak RSS: downloader $(ratio "${b_dl_rss[0]}" "${b_dl_rss[1]}")x, seeder $(ratio "${b_seed_rss[0]}" "${b_seed_rss[1]}")x;" \
        "anonymous: downloader $(ratio "${b_dl_anon[0]}" "${b_dl_anon[1]}")x, seeder $(ratio "${b_seed_anon[0]}" "${b_seed_anon[1]}")x"
else
    echo "no Shoal → Shoal / libtorrent → libtorrent ratio: a run failed"
fi
echo "(MB = 10^6 bytes; transfer s = from the downloader's first connection to its download complete; KEEP=1 keeps the logs)"
exit "$failed"
