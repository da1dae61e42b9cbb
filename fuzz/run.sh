#!/usr/bin/env bash
# Bounded fuzzing run of every target (or the ones named): builds the libFuzzer bins once
# with cargo-fuzz (stable toolchain, no sanitizer, own target dir fuzz/target), runs each
# for FUZZ_SECS seconds and prints executions, exec/s and crashes per target.
# Usage: fuzz/run.sh [target ...]    (make fuzz FUZZ_SECS=60)
set -uo pipefail
cd "$(dirname "$0")/.."
SECS="${FUZZ_SECS:-60}"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(frame ws_message image_decode calibration_json report_json activity_stream)

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked || exit 1
fi
cargo fuzz build -s none --features libfuzzer --target-dir fuzz/target || exit 1
BIN=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release

printf '\n%-18s %12s %9s %8s %8s  %s\n' target executions exec/s coverage crashes "new crash inputs"
status=0
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus-run/$t" "fuzz/artifacts/$t" "fuzz/artifacts-regressions/$t"
    before=$(ls "fuzz/artifacts/$t" | sort)
    dict=()
    [ -f "fuzz/dicts/$t.dict" ] && dict=(-dict="fuzz/dicts/$t.dict")
    "$BIN/$t" "${dict[@]}" -max_total_time="$SECS" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="fuzz/artifacts/$t/" \
        "fuzz/corpus-run/$t" "fuzz/corpus/$t" "fuzz/artifacts-regressions/$t" \
        >"fuzz/artifacts/$t.log" 2>&1
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz/artifacts/$t.log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "fuzz/artifacts/$t.log" | tail -1)
    cov=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "fuzz/artifacts/$t.log" | tail -1 | sed -n 's/.* cov: \([0-9]*\) .*/\1/p')
    new=$(comm -13 <(echo "$before") <(ls "fuzz/artifacts/$t" | sort) | grep -E '^(crash|timeout|oom|leak)-' || true)
    n=$(printf '%s' "$new" | grep -c . || true)
    [ "$n" -eq 0 ] || status=1
    printf '%-18s %12s %9s %8s %8s  %s\n' "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" "$n" "$(echo $new)"
done
if [ $status -ne 0 ]; then
    echo "crashes found: see fuzz/artifacts/<target>/ and fuzz/artifacts/<target>.log;" \
         "fix, then copy the input into fuzz/artifacts-regressions/<target>/" >&2
fi
exit $status
