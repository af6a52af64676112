# bench/common.sh - helpers the benchmark scripts share (sourced, not run).

# shoal_binary ROOT: prints the shoal binary to measure: $SHOAL if set, else ROOT's release build, built
# first if missing. Expects a die function.
shoal_binary() {
    local shoal=${SHOAL:-$1/.build/release/shoal}
    if [[ ! -x $shoal ]]; then
        [[ -z ${SHOAL:-} ]] || die "SHOAL=$SHOAL is not an executable"
        echo "building shoal (release)..." >&2
        (cd "$1" && swift build -c release --product shoal) >&2
        [[ -x $shoal ]] || die "build did not produce $shoal"
    fi
    echo "$shoal"
}

# remove_work: removes the folder $work, or with KEEP=1 keeps it and says where.
remove_work() {
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "kept $work" >&2
    else
        rm -rf -- "$work"
    fi
}
