#!/usr/bin/env bash
# bench/create-verify.sh - hashing throughput of `shoal create` / `shoal verify`
# against sha1sum, mktorrent and libtorrent on one large file (warm page cache).
#
# Usage: bench/create-verify.sh
# Environment:
#   SHOAL=path        shoal binary (default .build/release/shoal; built with
#                     `swift build -c release --product shoal` if missing)
#   SKIP_SHOAL=1      measure only the reference tools (no build, no shoal rows)
#   BENCH_FILE=path   reuse this data file instead of making a random one
#                     (it is never deleted; its folder is used as verify DIR)
#   SIZE_MIB=n        size of the generated random file (default 1024)
#   REPEAT=n          run each command n times and report the fastest (default 1)
#   THREADS=n         pass --threads n to shoal create/verify (default: not passed)
#   KEEP=1            keep the temp folder (torrents, logs) and print its path
# Exit status: 0 if every command succeeded, 1 if one failed, 2 on bad setup.
#
# Every row: wall seconds, CPU seconds (user+sys), GiB/s (file size / wall) and
# wall time relative to `mktorrent -t 2 -l 19` (piece size 512 KiB).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
lt_tool="$root/Tests/InteropTests/Support/lt_tool.py"
py=/usr/bin/python3
piece=524288
repeat=${REPEAT:-1}
size_mib=${SIZE_MIB:-1024}

die() { echo "create-verify.sh: $*" >&2; exit 2; }

for tool in sha1sum mktorrent; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x $py ]] || die "$py not found"
[[ -f $lt_tool ]] || die "$lt_tool not found"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer"

work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-bench.XXXXXX")
trap remove_work EXIT
trap 'exit 130' INT TERM

# --- shoal binary ----------------------------------------------------------
shoal=""
if [[ ${SKIP_SHOAL:-0} != 1 ]]; then
    shoal=$(shoal_binary "$root")
fi
shoal_threads=()
if [[ -n ${THREADS:-} ]]; then
    shoal_threads=(--threads "$THREADS")
fi

# --- data ------------------------------------------------------------------
if [[ -n ${BENCH_FILE:-} ]]; then
    [[ -f $BENCH_FILE ]] || die "BENCH_FILE=$BENCH_FILE is not a file"
    data=$(cd "$(dirname "$BENCH_FILE")" && pwd)/$(basename "$BENCH_FILE")
else
    mkdir "$work/data"
    data=$work/data/random.bin
    echo "making ${size_mib} MiB of random data..." >&2
    head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$data"
fi
datadir=$(dirname "$data")
size=$(stat -c %s "$data")
(( size > 0 )) || die "data file is empty"

avail_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
if (( avail_kib > 0 && avail_kib * 1024 < size * 2 )); then
    echo "warning: only $((avail_kib / 1024)) MiB available; the file may not stay cached" >&2
fi
echo "warming the page cache..." >&2
cat "$data" >/dev/null
cat "$data" >/dev/null

# --- measuring ---------------------------------------------------------------
names=() walls=() cpus=() notes=()

# measure NAME CMD... : runs CMD $repeat times (stdout/stderr to a log) and
# records the fastest wall time and that run's user+sys CPU time.
measure() {
    local name=$1; shift
    local log="$work/log.$(( ${#names[@]} + 1 ))"
    local best_wall="" best_cpu="" note="" i rc tm r u s
    for (( i = 0; i < repeat; i++ )); do
        rc=0
        tm=$( { TIMEFORMAT='%R %U %S'; time "$@" >"$log" 2>&1; } 2>&1 ) || rc=$?
        if (( rc != 0 )); then
            note="FAILED (exit $rc, see log)"
            echo "$name failed with exit $rc:" >&2
            tail -n 5 "$log" >&2 || true
            break
        fi
        read -r r u s <<<"$tm"
        if [[ -z $best_wall ]] || awk -v a="$r" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
            best_wall=$r
            best_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
        fi
    done
    names+=("$name"); walls+=("${best_wall:--}"); cpus+=("${best_cpu:--}"); notes+=("$note")
    printf '  %-34s %s\n' "$name" "${best_wall:-failed}" >&2
}

# fresh OUT CMD... : delete OUT, then run CMD (mktorrent refuses to overwrite)
fresh() { rm -f -- "$1"; shift; "$@"; }

echo "measuring ($repeat run(s) each, fastest kept)..." >&2
t=$work/t
mkdir "$t"

measure "sha1sum" sha1sum "$data"
measure "mktorrent -t 2 -l 19 (v1)" fresh "$t/mk.torrent" mktorrent -t 2 -l 19 -o "$t/mk.torrent" "$data"
measure "libtorrent create (v1)" fresh "$t/lt-v1.torrent" "$py" "$lt_tool" create "$data" "$t/lt-v1.torrent" --v1 --piece-size "$piece"
measure "libtorrent check (v1)" "$py" "$lt_tool" check "$t/lt-v1.torrent" "$datadir"

if [[ -n $shoal ]]; then
    for v in v1 v2 hybrid; do
        measure "shoal create --$v" fresh "$t/shoal-$v.torrent" "$shoal" create "$data" -o "$t/shoal-$v.torrent" "--$v" \
            --piece-size "$piece" --no-date "${shoal_threads[@]}"
    done
    for v in v1 v2 hybrid; do
        if [[ -f $t/shoal-$v.torrent ]]; then
            measure "shoal verify ($v)" "$shoal" verify "$t/shoal-$v.torrent" "$datadir" "${shoal_threads[@]}"
        else
            names+=("shoal verify ($v)"); walls+=("-"); cpus+=("-"); notes+=("skipped: no torrent")
        fi
    done
    # cross-checks: same piece size, single file -> identical v1 info-hash
    if [[ -f $t/shoal-v1.torrent && -f $t/lt-v1.torrent ]]; then
        a=$("$py" "$lt_tool" info "$t/shoal-v1.torrent" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["v1"])' || true)
        b=$("$py" "$lt_tool" info "$t/lt-v1.torrent" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["v1"])' || true)
        if [[ -n $a && $a == "$b" ]]; then
            echo "v1 info-hash: shoal == libtorrent ($a)" >&2
        else
            echo "WARNING: v1 info-hash differs: shoal $a, libtorrent $b" >&2
        fi
    fi
fi

# --- report -------------------------------------------------------------------
mk_wall=-
for i in "${!names[@]}"; do
    [[ ${names[$i]} == mktorrent* ]] && mk_wall=${walls[$i]}
done
echo
printf 'file: %s (%d bytes), piece size %d, %s CPU(s), %s run(s) each (fastest)\n' \
    "$data" "$size" "$piece" "$(nproc)" "$repeat"
printf '%-34s %9s %9s %8s %11s  %s\n' "command" "wall s" "cpu s" "GiB/s" "x mktorrent" ""
printf '%-34s %9s %9s %8s %11s\n' "$(printf '%.0s-' {1..34})" "---------" "---------" "--------" "-----------"
for i in "${!names[@]}"; do
    w=${walls[$i]} c=${cpus[$i]}
    if [[ $w == - ]]; then
        printf '%-34s %9s %9s %8s %11s  %s\n' "${names[$i]}" - - - - "${notes[$i]}"
        continue
    fi
    gibs=$(awk -v b="$size" -v w="$w" 'BEGIN { if (w > 0) printf "%.2f", b / 1073741824 / w; else print "inf" }')
    if [[ $mk_wall != - ]]; then
        ratio=$(awk -v w="$w" -v m="$mk_wall" 'BEGIN { if (m > 0) printf "%.2f", w / m; else print "-" }')
    else
        ratio=-
    fi
    printf '%-34s %9.3f %9.3f %8s %11s  %s\n' "${names[$i]}" "$w" "$c" "$gibs" "$ratio" "${notes[$i]}"
done

for n in "${notes[@]}"; do
    [[ $n == FAILED* || $n == skipped* ]] && exit 1
done
exit 0
