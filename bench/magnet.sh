#!/usr/bin/env bash
# bench/magnet.sh - time from a magnet link to the first byte: `shoal download MAGNET` against libtorrent's
# download of the same magnet link (lt_tool.py download-magnet), measured side by side in the same run, over
# loopback, from one libtorrent seeder named in the link (x.pe).
#
# Usage: bench/magnet.sh
# Environment:
#   SHOAL=path   shoal binary (default .build/release/shoal, built if missing)
#   REPEAT=n     downloads of each client, interleaved (default 5); the table gives medians
#   SIZE_MB=n    payload size (default 8), one file, a v1 torrent of 16 KiB pieces: the first piece is the first
#                block, so Shoal's "first piece verified" and libtorrent's first finished block mean the same
#   KEEP=1       keep the temp folder
# Each download runs under bench/rusage.py --stamp: its stderr lines are timestamped from the process's spawn.
#   metadata     shoal "metadata received from ..." / lt_tool "metadata received S"
#   first byte   shoal "first piece verified" / lt_tool "first block S" (block_finished_alert)
#   complete     shoal "download complete" / lt_tool's exit after the last piece
# Both clients start a whole session (Shoal's process, or Python with libtorrent), so the times include their
# start-up; lt_tool also reports its times from the torrent's addition, shown in the last column.
# Exit status: 0 if every download worked.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/common.sh"
die() { echo "magnet.sh: $*" >&2; exit 2; }
py=/usr/bin/python3
lt_tool="$root/Tests/InteropTests/Support/lt_tool.py"
rusage="$root/bench/rusage.py"
shoal=$(shoal_binary "$root")
repeat=${REPEAT:-5}
size=${SIZE_MB:-8}
work=$(mktemp -d)
seeder=
cleanup() { [[ -n $seeder ]] && kill "$seeder" 2>/dev/null; wait 2>/dev/null || true; remove_work; }
trap cleanup EXIT

mkdir -p "$work/data"
head -c $(( size << 20 )) /dev/urandom > "$work/data/payload.bin"
"$py" "$lt_tool" create "$work/data/payload.bin" "$work/t.torrent" --v1 --piece-size 16384 > /dev/null
magnet=$("$shoal" info --json "$work/t.torrent" | "$py" -c 'import json, sys; print(json.load(sys.stdin)["magnet"])')
mkfifo "$work/seed.in"
"$py" "$lt_tool" seed "$work/t.torrent" "$work/data" --plain --timeout 3600 < "$work/seed.in" > "$work/seed.out" 2>/dev/null &
seeder=$!
exec 3> "$work/seed.in"
for (( i = 0; i < 300; i++ )); do [[ -s $work/seed.out ]] && break; sleep 0.1; done
port=$("$py" -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["port"])' "$work/seed.out")
link="$magnet&x.pe=127.0.0.1:$port"

stamp() { awk -F '\t' -v re="$1" '$2 ~ re { print $1; exit }' "$2"; }
declare -A results
failed=0
for (( run = 1; run <= repeat; run++ )); do
    for client in shoal libtorrent; do
        out="$work/out-$client-$run"
        log="$work/$client-$run"
        if [[ $client == shoal ]]; then
            XDG_STATE_HOME="$work/state" "$py" "$rusage" --out "$log.rusage" --stamp "$log.stamp" --timeout 120 -- \
                "$shoal" download "$link" -o "$out" --port 0 --no-dht --no-lsd > /dev/null 2>&1 || failed=1
            meta=$(stamp '^metadata received' "$log.stamp"); first=$(stamp '^first piece verified' "$log.stamp")
            done_=$(stamp '^download complete' "$log.stamp"); inner="-"
        else
            "$py" "$rusage" --out "$log.rusage" --stamp "$log.stamp" --timeout 120 -- \
                "$py" "$lt_tool" download-magnet "$link" "$out" --peer "127.0.0.1:$port" --plain --timeout 120 > "$log.json" 2>/dev/null || failed=1
            meta=$(stamp '^metadata received' "$log.stamp"); first=$(stamp '^first block' "$log.stamp")
            done_=$(sed -n 's/.*wall=\([0-9.]*\).*/\1/p' "$log.rusage")
            inner=$("$py" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["firstBlockSeconds"])' "$log.json" 2>/dev/null || echo -)
        fi
        cmp -s "$work/data/payload.bin" "$out/payload.bin" || { echo "$client run $run: the copy differs" >&2; failed=1; }
        results[$client]+="${meta:-nan} ${first:-nan} ${done_:-nan} $inner"$'\n'
        rm -rf "$out"
    done
done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else print a[int((NR + 1) / 2)] }'; }
column() { printf '%s' "${results[$1]}" | awk -v c="$2" 'NF { print $c }' | median; }
echo "Magnet link to first byte over loopback, one libtorrent seeder in x.pe, ${size} MiB in 16 KiB pieces, median of $repeat"
echo "| seconds from process start | shoal | libtorrent | shoal / libtorrent |"
echo "| --- | ---: | ---: | ---: |"
for pair in "metadata:1" "first byte:2" "complete:3"; do
    name=${pair%%:*}; c=${pair##*:}
    s=$(column shoal "$c"); l=$(column libtorrent "$c")
    printf '| %s | %.3f | %.3f | %.2f |\n' "$name" "$s" "$l" "$("$py" -c "print($s / $l if $l else float('nan'))")"
done
echo "libtorrent's own first-block time, from the torrent's addition (its session already up): $(column libtorrent 4) s"
exit "$failed"
