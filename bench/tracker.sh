#!/usr/bin/env bash
# bench/tracker.sh - announce throughput and memory of `shoal tracker` against
# Debian's opentracker, measured side by side in the same run, over loopback.
#
# Usage: bench/tracker.sh
# Environment:
#   SHOAL=path        shoal binary (default .build/release/shoal; built with
#                     `swift build -c release --product shoal` if missing)
#   SKIP_SHOAL=1      measure only opentracker (no build, no shoal column)
#   REPEAT=n          run every tracker n times (interleaved, a fresh process
#                     each time) and keep the best figure of each measurement
#                     (default 3)
#   DURATION=s        measured seconds of each throughput run (default 10),
#                     after WARMUP=s seconds of the same load (default 1)
#   SWARMS=n          swarms (info-hashes, all on the allow list; default 1000)
#   PEERS=n           peers per swarm (default 100): SWARMS x PEERS distinct
#                     peers are announced for the memory figure, and are the
#                     peers the throughput runs announce again
#   NUMWANT=n         numwant of the throughput runs (default 50)
#   UDP_WINDOW=n      UDP announces in flight at once (default 64)
#   HTTP_CONNS=n      HTTP connections at once, one request on each (default 16)
#   ADDRS=n           source addresses 127.0.0.1 .. 127.0.0.n (default 4)
#   PIN=0             don't pin: by default (2+ CPUs) the tracker runs on CPU 0
#                     and the load generator on CPU 1 (taskset)
#   KEEP=1            keep the temp folder (generator, allow list, logs)
# Needs: opentracker and gcc (apt-get install -y opentracker gcc), taskset
# (util-linux). Exit status: 0 if every measurement worked, 1 if one failed,
# 2 on bad setup.
#
# Each run starts the tracker (opentracker -i 127.0.0.1 -p HTTP -P UDP -w LIST
# on free ports; shoal tracker --http 0 --udp 0 --allow-list LIST), both with
# the same allow list of the SWARMS info-hashes (Debian builds opentracker
# with a whitelist, so it serves only listed hashes), and then:
#   bytes/peer  VmRSS of the tracker before and after SWARMS x PEERS distinct
#               peers announce once over UDP (event started, numwant 0):
#               (after - before) / peers; and the same of RssAnon (anonymous
#               memory: no pages of the program's file). A peer is a (source
#               address, announced port) pair: 127.0.0.1..ADDRS x ports from
#               1024. "Before" follows a warm-up: on each address a connect
#               and an announce for a hash off the allow list (refused), so
#               what the tracker allocates on first use is not counted.
#   UDP         announces/s over BEP 15 (connect, then announces with that
#               connection id; refreshed after 60 s), UDP_WINDOW in flight
#   HTTP close  announces/s over HTTP, compact, HTTP_CONNS connections at once
#               sending "Connection: close": one announce per connection
#   HTTP keep   the same without "Connection: close": a connection is kept
#               when the response allows it (opentracker closes every one)
# The throughput runs re-announce the same SWARMS x PEERS peers (no event,
# every fourth a seeder), in a scattered order, so the tracker holds them all
# throughout; each reply should carry NUMWANT peers (checked: avg peers).
# The load comes from bench/tracker_load.c (compiled here with gcc -O2), which
# also reports the CPU use of the measured time: the tracker's process (user +
# sys, all threads), each core's busy share (includes the kernel's softirq
# network work, which over loopback is done largely on the sending side's
# core), and other processes' CPU (over 10% of a core is flagged: that run's
# figures are then unreliable; the best of REPEAT runs usually is a clean one).
# A run whose tracker core is under 90% busy while the generator's is at 90%
# or more was limited by the generator, and the report says so: compare the
# "announces per tracker CPU second" rows then. On the 2-core machine this was
# written on, the generator's own ceiling (against a trivial C responder) is
# about 300,000 UDP announces/s and 22,000 HTTP announces/s with a new
# connection each (the kernel's TCP connect/accept work of both sides lands on
# the generator's core), over 140,000/s over kept-alive connections; so
# opentracker's UDP figure (~170,000/s, its core 100% busy) is its own, while
# its HTTP figure (~22,000/s, its core ~70% busy) is the generator's.
# Loopback only: every packet goes to 127.0.0.1 (from 127.0.0.1..ADDRS).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
repeat=${REPEAT:-3}
duration=${DURATION:-10}
warmup=${WARMUP:-1}
swarms=${SWARMS:-1000}
peers=${PEERS:-100}
numwant=${NUMWANT:-50}
udp_window=${UDP_WINDOW:-64}
http_conns=${HTTP_CONNS:-16}
addrs=${ADDRS:-4}

die() { echo "tracker.sh: $*" >&2; exit 2; }

for v in repeat duration swarms peers udp_window http_conns addrs; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "${v^^} must be a positive integer"
done
[[ $warmup =~ ^[0-9]+$ ]] || die "WARMUP must be a whole number of seconds"
[[ $numwant =~ ^[0-9]+$ ]] || die "NUMWANT must be a whole number"
(( addrs <= 254 )) || die "ADDRS must be at most 254"
npeers=$(( swarms * peers ))
(( 1024 + (npeers + addrs - 1) / addrs <= 65535 )) \
    || die "$npeers peers from $addrs addresses need ports past 65535: raise ADDRS"
command -v opentracker >/dev/null || die "opentracker not found (apt-get install -y opentracker)"
command -v gcc >/dev/null || die "gcc not found (apt-get install -y gcc)"
command -v taskset >/dev/null || die "taskset not found (apt-get install -y util-linux)"
[[ -f $here/tracker_load.c ]] || die "$here/tracker_load.c not found"

# --- pinning -----------------------------------------------------------------
tracker_pin=() gen_pin=() tcore="" gcore=""
if [[ ${PIN:-1} != 0 ]] && (( $(nproc) >= 2 )); then
    tracker_pin=(taskset -c 0) gen_pin=(taskset -c 1) tcore=0 gcore=1
fi

# --- temp folder, processes, cleanup ---------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-tracker.XXXXXX")
chmod 755 "$work"   # opentracker drops to user nobody before it reads the whitelist
tracker_pid=""
stop_tracker() {
    local i
    [[ -n $tracker_pid ]] || return 0
    kill -INT "$tracker_pid" 2>/dev/null || true
    for (( i = 0; i < 50; i++ )); do
        kill -0 "$tracker_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$tracker_pid" 2>/dev/null || true
    wait "$tracker_pid" 2>/dev/null || true
    tracker_pid=""
}
gen_pid=""
# run_gen LOG ARGS: runs the load generator with ARGS (in the background, so that a
# signal to this script is handled at once), its output line to LOG
run_gen() {
    local log=$1
    shift
    "${gen_pin[@]}" "$gen" "$@" >"$log" 2>"$log.err" &
    gen_pid=$!
    wait "$gen_pid" || true
    gen_pid=""
}
cleanup() {
    if [[ -n $gen_pid ]]; then
        kill -TERM "$gen_pid" 2>/dev/null || true   # it stops at once and prints what it has
        wait "$gen_pid" 2>/dev/null || true
    fi
    stop_tracker
    remove_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- load generator and allow list -------------------------------------------
gen=$work/tracker_load
gcc -O2 -Wall -o "$gen" "$here/tracker_load.c" 2>"$work/gcc.log" || { cat "$work/gcc.log" >&2; die "cannot compile tracker_load.c"; }
allow=$work/allow.txt
"$gen" hashes -s "$swarms" >"$allow"
chmod 644 "$allow"
if (( EUID == 0 )) && command -v runuser >/dev/null && ! runuser -u nobody -- test -r "$allow" 2>/dev/null; then
    die "opentracker drops root for user nobody, who cannot read $allow: set TMPDIR to a folder all can enter"
fi
mkdir "$work/logs"

# --- shoal -------------------------------------------------------------------
trackers=(opentracker)
shoal="" shoal_note=""
if [[ ${SKIP_SHOAL:-0} == 1 ]]; then
    shoal_note="skipped (SKIP_SHOAL=1)"
elif ! shoal=$(shoal_binary "$root"); then
    shoal="" shoal_note="skipped (no shoal binary)"
else
    shoal_help=$("$shoal" tracker --help 2>&1 || true)
    if [[ $shoal_help != *--udp* || $shoal_help != *--allow-list* ]]; then
        shoal_note="skipped ($shoal has no tracker command with --udp and --allow-list)"
        shoal=""
    fi
fi
if [[ -n $shoal ]]; then
    trackers+=(shoal)
else
    echo "shoal: $shoal_note" >&2
fi

# --- helpers -------------------------------------------------------------------
# port_free PORT: true if no TCP or UDP socket (IPv4 or IPv6) uses PORT
port_free() {
    local hex
    hex=$(printf ':%04X ' "$1")
    ! cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 2>/dev/null | awk '{ print $2 " " }' | grep -qF -- "$hex"
}
# random_port: an unused port in 20000..59999
random_port() {
    local p i
    for (( i = 0; i < 100; i++ )); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        port_free "$p" && { echo "$p"; return; }
    done
    die "no free port found"
}
# listening PROTO PORT: true if a socket listens on PORT (TCP: LISTEN; UDP: bound)
listening() {
    local hex state files
    hex=$(printf '%04X' "$2")
    if [[ $1 == tcp ]]; then state=0A files=(/proc/net/tcp /proc/net/tcp6); else state=07 files=(/proc/net/udp /proc/net/udp6); fi
    cat "${files[@]}" 2>/dev/null | awk -v h=":$hex" -v s="$state" 'index($2, h) == length($2) - 4 && $4 == s { found = 1 } END { exit !found }'
}
# field NAME LINE: the value of NAME=... in a tracker_load output line
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# Set by start_tracker: tracker_pid, http_port, udp_port (empty pid on failure).
http_port="" udp_port=""
start_tracker() {
    local name=$1 log=$2 i try line
    http_port="" udp_port="" tracker_pid=""
    if [[ $name == opentracker ]]; then
        for (( try = 0; try < 5; try++ )); do
            http_port=$(random_port)
            udp_port=$(random_port)
            [[ $udp_port != "$http_port" ]] || continue
            # -i first: it is the address of the -p/-P after it. opentracker
            # drops root for nobody and then reads the whitelist.
            "${tracker_pin[@]}" opentracker -i 127.0.0.1 -p "$http_port" -P "$udp_port" -w "$allow" \
                >"$log.out" 2>"$log.err" </dev/null &
            tracker_pid=$!
            for (( i = 0; i < 100; i++ )); do
                if listening tcp "$http_port" && listening udp "$udp_port"; then
                    sleep 0.3   # the whitelist is read by a thread of its own
                    return 0
                fi
                kill -0 "$tracker_pid" 2>/dev/null || break
                sleep 0.1
            done
            echo "opentracker did not start (ports $http_port, $udp_port):" >&2
            tail -n 5 "$log.err" >&2 || true
            stop_tracker
        done
        return 1
    fi
    "${tracker_pin[@]}" "$shoal" tracker --http 0 --udp 0 --allow-list "$allow" \
        >"$log.out" 2>"$log.err" </dev/null &
    tracker_pid=$!
    for (( i = 0; i < 300; i++ )); do
        while read -r line; do
            [[ $line =~ ^http\ tracker\ on\ port\ ([0-9]+)$ ]] && http_port=${BASH_REMATCH[1]}
            [[ $line =~ ^udp\ tracker\ on\ port\ ([0-9]+)$ ]] && udp_port=${BASH_REMATCH[1]}
        done < <(cat "$log.out" 2>/dev/null)
        [[ -n $http_port && -n $udp_port ]] && return 0
        kill -0 "$tracker_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "shoal tracker did not start (or printed no ports); its output:" >&2
    tail -n 5 "$log.out" "$log.err" >&2 || true
    stop_tracker
    return 1
}

# load MODE PORT LOG [ARGS]: one throughput run of the generator, its line to LOG
load() {
    local mode=$1 port=$2 log=$3
    shift 3
    run_gen "$log" "$mode" 127.0.0.1 "$port" -s "$swarms" -p "$peers" -n "$numwant" -a "$addrs" \
        -t "$duration" -W "$warmup" -P "$tracker_pid" "$@"
}

# --- measurements --------------------------------------------------------------
metrics=(udp http_close http_keep mem mem_anon)
declare -A best note line_of
for tr in "${trackers[@]}"; do
    for m in "${metrics[@]}"; do best[$tr.$m]=""; note[$tr.$m]="not measured"; line_of[$tr.$m]=""; done
done
failed=0

# better METRIC NEW OLD: true if NEW beats OLD (rates: higher; bytes per peer: lower)
better() {
    [[ -z $3 ]] && return 0
    if [[ $1 == mem* ]]; then awk -v a="$2" -v b="$3" 'BEGIN { exit !(a < b) }'; else awk -v a="$2" -v b="$3" 'BEGIN { exit !(a > b) }'; fi
}
# pct CPU_SECONDS SECONDS: CPU seconds over SECONDS of wall time, in percent of one core
pct() { awk -v c="$1" -v t="$2" 'BEGIN { if (c == "" || t <= 0) print "-"; else printf "%.0f", c / t * 100 }'; }
# core N LIST: the busy share of core N, in percent, from "0.97,0.85"
core() { [[ -n $1 ]] && awk -v n="$1" -v l="$2" 'BEGIN { split(l, a, ","); if (a[n + 1] == "") print "-"; else printf "%.0f", a[n + 1] * 100 }' || echo "-"; }

# describe LINE: a short summary of a throughput line for the progress log
describe() {
    local l=$1 secs
    secs=$(field seconds "$l")
    printf '%s/s (tracker CPU %s%%, cores: tracker %s%% generator %s%%; generator CPU %s%%; other %s%%; errors %s, timeouts %s, %s peers/reply)' \
        "$(field rate "$l")" "$(pct "$(field tracker_cpu "$l")" "$secs")" "$(core "$tcore" "$(field core_busy "$l")")" \
        "$(core "$gcore" "$(field core_busy "$l")")" "$(pct "$(field gen_cpu "$l")" "$secs")" \
        "$(pct "$(field other_cpu "$l")" "$secs")" "$(( $(field errors "$l") + $(field short "$l") ))" \
        "$(field timeouts "$l")" "$(field avg_peers "$l")"
}

# record TRACKER METRIC VALUE LINE: keeps VALUE if it is the best so far
record() {
    if better "$2" "$3" "${best[$1.$2]}"; then
        best[$1.$2]=$3
        line_of[$1.$2]=$4
        note[$1.$2]=""
    fi
}

# run_tracker NAME RUN: one fresh tracker process, all measurements
run_tracker() {
    local tr=$1 r=$2 log=$work/logs/$1.$2 l rate
    if ! start_tracker "$tr" "$log.tracker"; then
        failed=1
        for m in "${metrics[@]}"; do [[ -n ${best[$tr.$m]} ]] || note[$tr.$m]="FAILED: did not start"; done
        return
    fi
    sleep 0.5
    # the generator reads the tracker's memory itself: after a warm-up (a
    # connect and a refused announce per address), and 0.3 s after the last
    # of the peers was acknowledged
    run_gen "$log.seed" udp 127.0.0.1 "$udp_port" -S -s "$swarms" -p "$peers" -a "$addrs" -P "$tracker_pid"
    l=$(cat "$log.seed")
    local rb ra ab aa
    rb=$(field rss_before_kib "$l") ra=$(field rss_after_kib "$l")
    ab=$(field anon_before_kib "$l") aa=$(field anon_after_kib "$l")
    if [[ $(field acked "$l") == "$npeers" && $rb =~ ^[0-9]+$ && $ra =~ ^[0-9]+$ && $ab =~ ^[0-9]+$ && $aa =~ ^[0-9]+$ ]]; then
        local bpp apl
        bpp=$(awk -v a="$ra" -v b="$rb" -v n="$npeers" 'BEGIN { printf "%.1f", (a - b) * 1024 / n }')
        apl=$(awk -v a="$aa" -v b="$ab" -v n="$npeers" 'BEGIN { printf "%.1f", (a - b) * 1024 / n }')
        printf '  %-11s run %d: %d peers in %s s: VmRSS %d -> %d KiB (%s bytes/peer), RssAnon %d -> %d KiB (%s bytes/peer)\n' \
            "$tr" "$r" "$npeers" "$(field seconds "$l")" "$rb" "$ra" "$bpp" "$ab" "$aa" "$apl" >&2
        record "$tr" mem "$bpp" ""
        record "$tr" mem_anon "$apl" ""
    else
        failed=1
        for m in mem mem_anon; do
            [[ -n ${best[$tr.$m]} ]] || note[$tr.$m]="FAILED: $(field acked "$l")/$npeers peers acknowledged"
        done
        printf '  %-11s run %d: seeding failed: %s %s\n' "$tr" "$r" "$l" "$(head -c 300 "$log.seed.err")" >&2
    fi

    local m args
    for m in udp http_close http_keep; do
        case $m in
            udp) load udp "$udp_port" "$log.$m" -w "$udp_window" ;;
            http_close) load http "$http_port" "$log.$m" -w "$http_conns" -c ;;
            http_keep) load http "$http_port" "$log.$m" -w "$http_conns" ;;
        esac
        l=$(cat "$log.$m")
        rate=$(field rate "$l")
        if [[ -n $rate && $rate != 0 ]]; then
            printf '  %-11s run %d: %-10s %s\n' "$tr" "$r" "$m" "$(describe "$l")" >&2
            record "$tr" "$m" "$rate" "$l"
        else
            failed=1
            [[ -n ${best[$tr.$m]} ]] || note[$tr.$m]="FAILED"
            printf '  %-11s run %d: %-10s FAILED: %s %s\n' "$tr" "$r" "$m" "$l" "$(head -c 300 "$log.$m.err")" >&2
        fi
        if [[ -s $log.$m.err ]]; then sed 's/^/      /' "$log.$m.err" | head -n 3 >&2; fi
        local other secs
        other=$(field other_cpu "$l") secs=$(field seconds "$l")
        if [[ -n $other && -n $secs ]] && awk -v o="$other" -v s="$secs" 'BEGIN { exit !(o > 0.1 * s) }'; then
            echo "      warning: other processes used $(pct "$other" "$secs")% of a core during this run" >&2
        fi
    done
    stop_tracker
    if [[ -s $log.tracker.err ]]; then sed 's/^/      tracker: /' "$log.tracker.err" | tail -n 3 >&2; fi
}

echo "tracker benchmark: $swarms swarms x $peers peers, numwant $numwant, ${duration}s runs after ${warmup}s warm-up," \
    "$repeat run(s) per tracker, best kept${tcore:+; tracker on CPU $tcore, generator on CPU $gcore}" >&2
for (( r = 1; r <= repeat; r++ )); do
    for tr in "${trackers[@]}"; do
        run_tracker "$tr" "$r"
    done
done

# --- report --------------------------------------------------------------------
ot_version=$(dpkg-query -W -f '${Version}' opentracker 2>/dev/null || echo "?")
echo
printf 'opentracker %s (Debian, whitelist build)' "$ot_version"
if [[ -n $shoal ]]; then
    printf '; shoal %s (%s)' "$("$shoal" --version 2>/dev/null || echo "?")" "$shoal"
else
    printf '; shoal %s' "$shoal_note"
fi
printf '\n%d swarms x %d peers (%d peers from %d loopback addresses), numwant %d; %d s per run, %d run(s), best kept; %s CPU(s)%s\n' \
    "$swarms" "$peers" "$npeers" "$addrs" "$numwant" "$duration" "$repeat" "$(nproc)" \
    "${tcore:+, tracker pinned to CPU $tcore and load generator to CPU $gcore}"
echo

# cell TRACKER METRIC: the best figure, or the note
cell() {
    if [[ $1 == shoal && -z $shoal ]]; then echo "skipped"
    elif [[ -n ${best[$1.$2]} ]]; then echo "${best[$1.$2]}"
    else echo "${note[$1.$2]}"; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }'; }
# per_cpu TRACKER METRIC: announces per second of the tracker's CPU time in its best run
per_cpu() {
    local l=${line_of[$1.$2]:-}
    if [[ $1 == shoal && -z $shoal ]]; then echo "skipped"; return; fi
    [[ -n $l ]] || { echo "-"; return; }
    awk -v a="$(field announces "$l")" -v c="$(field tracker_cpu "$l")" 'BEGIN { if (c > 0) printf "%.0f", a / c; else print "-" }'
}
labels=("UDP announces/s" "HTTP announces/s, new connection each" "HTTP announces/s, keep-alive if offered"
    "bytes per peer (VmRSS growth / peers)" "bytes per peer, anonymous memory only (RssAnon growth / peers)")
run_labels=("UDP" "HTTP, new connection each" "HTTP, keep-alive if offered")
echo "| measurement | opentracker | shoal | ratio shoal/opentracker |"
echo "| --- | ---: | ---: | ---: |"
for i in "${!metrics[@]}"; do
    m=${metrics[i]}
    o=$(cell opentracker "$m")
    s=$(cell shoal "$m")
    printf '| %s | %s | %s | %s |\n' "${labels[i]}" "$o" "$s" "$(ratio "$s" "$o")"
done
cpu_labels=("UDP announces per tracker CPU second" "HTTP announces per tracker CPU second, new connection each"
    "HTTP announces per tracker CPU second, keep-alive if offered")
for i in 0 1 2; do
    m=${metrics[i]}
    o=$(per_cpu opentracker "$m")
    s=$(per_cpu shoal "$m")
    printf '| %s | %s | %s | %s |\n' "${cpu_labels[i]}" "$o" "$s" "$(ratio "$s" "$o")"
done
echo
echo "Load in the best runs (CPU in % of one core over the measured seconds):"
echo
echo "| run | tracker | announces/s | tracker CPU | tracker core busy | generator core busy | generator CPU | other processes | errors | timeouts | peers/reply |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
bound=()
for i in 0 1 2; do
    m=${metrics[i]}
    for tr in "${trackers[@]}"; do
        l=${line_of[$tr.$m]}
        if [[ -z $l ]]; then
            printf '| %s | %s | %s | - | - | - | - | - | - | - | - |\n' "${run_labels[i]}" "$tr" "$(cell "$tr" "$m")"
            continue
        fi
        secs=$(field seconds "$l")
        tbusy=$(core "$tcore" "$(field core_busy "$l")")
        gbusy=$(core "$gcore" "$(field core_busy "$l")")
        printf '| %s | %s | %s | %s%% | %s%% | %s%% | %s%% | %s%% | %s | %s | %s |\n' "${run_labels[i]}" "$tr" "$(field rate "$l")" \
            "$(pct "$(field tracker_cpu "$l")" "$secs")" "$tbusy" "$gbusy" "$(pct "$(field gen_cpu "$l")" "$secs")" \
            "$(pct "$(field other_cpu "$l")" "$secs")" "$(( $(field errors "$l") + $(field short "$l") ))" \
            "$(field timeouts "$l")" "$(field avg_peers "$l")"
        if [[ $tbusy =~ ^[0-9]+$ && $gbusy =~ ^[0-9]+$ ]] && (( tbusy < 90 && gbusy >= 90 )); then
            bound+=("$tr ${run_labels[i]} (tracker core ${tbusy}% busy, generator core ${gbusy}%)")
        fi
    done
done
echo
if (( ${#bound[@]} )); then
    echo "Limited by the load generator, not the tracker (its announces/s is a floor; compare announces per tracker CPU second instead):"
    for b in "${bound[@]}"; do echo "- $b"; done
    echo
fi
echo "(ratio above 1: Shoal's figure is higher - better for announces, worse for bytes per peer;" \
    "KEEP=1 keeps the logs)"
exit "$failed"
