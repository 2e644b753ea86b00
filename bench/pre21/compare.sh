#!/usr/bin/env bash
# The claims figure of the build before issue #21 (1edc612: per-campaign leases, no
# cross-campaign checks, the build whose best run gave the "today's 24 µs") and of
# this checkout's, run turn about on this host: the host's speed moves the figure by ~2×
# between sessions, so only a comparison in one sitting tells what the #21 checks cost.
#
#   bench/pre21/compare.sh [ROUNDS]        (default 4; ~2.5 min a round, PostgreSQL)
#
# The old tree is exported with `git archive` (nothing is checked out here), patched with
# counting.patch so that it counts PostgreSQL's CPU as today's harness does (the bench
# database's processes and the shared WAL/checkpoint writers, not every `postgres` on the
# machine) and prints the per-leased-contact row, and built into its own target directory
# (~8 min the first time). Needs this checkout's release bench built (`cargo build
# --release --bin bench`) and PostgreSQL at CONTACTD_BENCH_PG_URL or 127.0.0.1:5432.
set -euo pipefail
rounds=${1:-4}
root=$(git rev-parse --show-toplevel)
old=${PRE21_DIR:-${TMPDIR:-/tmp}/contactd-pre21}
if [ ! -f "$old/.patched" ]; then
    rm -rf "$old" && mkdir -p "$old"
    git -C "$root" archive 1edc612 | tar -x -C "$old"
    (cd "$old" && patch -p1 --quiet < "$root/bench/pre21/counting.patch")
    touch "$old/.patched"
fi
(cd "$old" && cargo build --release --quiet --bin bench)
new_bench="$root/target/release/bench"
[ -x "$new_bench" ] || { echo "build this checkout's bench first: cargo build --release --bin bench" >&2; exit 1; }
figure() {
    "$1" --suite claims --backend pg 2>&1 |
        grep -v '|' | grep -E "CPU time per leased contact, server|the server's CPU|PostgreSQL's CPU" |
        sed -E 's/ +/ /g; s/^ //'
}
for r in $(seq 1 "$rounds"); do
    echo "round $r, this checkout:"; figure "$new_bench"
    echo "round $r, 1edc612 (before #21):"; figure "$old/target/release/bench"
done
