#!/usr/bin/env bash
# bench/dht.sh - a simulated DHT of Shoal nodes: NODES nodes (default 10000) of the real DHTNode in one process,
# on a virtual network with one-way delays of DELAY_MIN_MS to DELAY_MAX_MS (default 10-150) and LOSS (default 0.05)
# of datagrams lost, and a virtual clock. Nodes join one after another, each through a random node already in;
# then LOOKUPS random nodes (default 200) each announce an info-hash at once and, 20 virtual seconds later, as many
# others look one up each with get_peers. Prints the median and 95th percentile of hops, queries and time to the announced
# peer, the share of lookups that found it, and anonymous memory per node (everything allocated for the nodes:
# tables, peer stores, pending queries; not the network's packets in flight).
#
# No reference client runs here: libtorrent and Transmission have no simulator of their DHT that this machine
# can run beside ours, so the figures stand alone.
# SEED=n picks the random sequence (default 1). Builds in release into .build (SHOAL_BENCH=1 adds the target).
set -euo pipefail
cd "$(dirname "$0")/.."
SHOAL_BENCH=1 swift build -c release --product DHTSimulation >&2
exec "$(SHOAL_BENCH=1 swift build -c release --show-bin-path)/DHTSimulation"
