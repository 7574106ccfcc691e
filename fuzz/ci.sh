#!/usr/bin/env bash
# Run every cargo-fuzz target for a bounded time; exit non-zero if any
# target crashes (panic, sanitizer report, timeout or out-of-memory).
#
#   fuzz/ci.sh [SECONDS_PER_TARGET]      (default 30)
#
# Each target starts from its committed seeds (fuzz/seeds/<target>, the
# RFC 4475 torture messages, and fuzz/regressions/<target>, inputs that once
# failed) and writes what it discovers into a scratch
# corpus that is thrown away, so a CI run leaves the tree clean. A crashing
# input is kept in fuzz/artifacts/<target>/ (ignored by git) and its path is
# printed; reproduce it with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <file>`.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP=1 lets a
# stable toolchain build with the sanitizer flags cargo-fuzz passes.
set -uo pipefail

secs=${1:-30}
case $secs in '' | *[!0-9]*) echo "usage: $0 [seconds per target]" >&2; exit 2 ;; esac
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi
cargo fuzz build || exit 2
targets=$(cargo fuzz list) || exit 2

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in $targets; do
    mkdir -p "$scratch/$t"
    seeds=()
    for d in "seeds/$t" "regressions/$t"; do
        [ -d "$d" ] && seeds+=("$d")
    done
    log="$scratch/$t.log"
    echo "== $t: ${secs}s"
    cargo fuzz run "$t" "$scratch/$t" "${seeds[@]}" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    if [ "$rc" -ne 0 ]; then
        failed+=("$t")
        tail -n 60 "$log"
        echo "== $t: CRASH (exit $rc) after ${runs:-?} executions"
    else
        echo "== $t: ${runs:-?} executions in ${took:-$secs}s, no crash"
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz: crashed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all targets clean"
