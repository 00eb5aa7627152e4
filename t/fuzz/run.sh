#!/bin/bash
# Fuzzes one harness for a bounded time and records the verdict.
#
#   run.sh HARNESS FUZZ_DIR SECONDS T_FUZZ_DIR [libFuzzer flags...]
#
# Writes FUZZ_DIR/results/HARNESS as
#   name|executions|exec/s|cov|ft|corpus|verdict|detail
# (verdict: clean, or crash/leak/timeout/oom/invariant/ubsan/error) and
# always exits 0: `make fuzz` runs every harness, then summary.sh decides.
set -uo pipefail
name=$1; dir=$2; secs=$3; here=$4; shift 4

bin=$dir/$name
corpus=$dir/corpus/$name
crashes=$dir/crashes/$name
log=$dir/logs/$name.log
res=$dir/results/$name

mkdir -p "$crashes" "$dir/logs" "$dir/results"
rm -f "$res"

dict=()
[ -f "$here/dict/$name.dict" ] && dict=(-dict="$here/dict/$name.dict")

stamp=$(mktemp)
echo "# fuzzing $name for ${secs}s"

UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$bin" -max_total_time="$secs" -artifact_prefix="$crashes/" "${dict[@]}" \
    "$@" "$corpus" > "$log" 2>&1
rc=$?

num() { grep -aoE "$1" "$log" | tail -1 | grep -oE '[0-9]+$' || echo "?"; }

execs=$(num 'stat::number_of_executed_units: *[0-9]+')
[ "$execs" = "?" ] && execs=$(grep -aoE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
eps=$(num 'stat::average_exec_per_sec: *[0-9]+')
[ "$eps" = "?" ] && eps=$(num 'exec/s: [0-9]+')
cov=$(num 'cov: [0-9]+')
ft=$(num 'ft: [0-9]+')
corp=$(find "$corpus" -maxdepth 1 -type f ! -name '.*' | wc -l)

new=$(find "$crashes" -type f -newer "$stamp" | sort)
rm -f "$stamp"

verdict=clean
detail=
if [ $rc -ne 0 ] || [ -n "$new" ]; then
    if grep -aq '==FUZZ INVARIANT==' "$log"; then
        verdict=invariant
        detail=$(grep -a -A1 '==FUZZ INVARIANT==' "$log" | tail -1 | sed 's/^ *//')
    elif grep -aq 'runtime error:' "$log"; then
        verdict=ubsan
        detail=$(grep -a -m1 'runtime error:' "$log")
    elif grep -aq 'ERROR: LeakSanitizer' "$log"; then
        verdict=leak
        detail=$(grep -a -m1 -A3 'Direct leak\|Indirect leak' "$log" | grep -a -m1 ' in cs_\| in fz_' | sed 's/^ *//')
    elif grep -aq 'ERROR: libFuzzer: timeout' "$log"; then
        verdict=timeout
    elif grep -aq 'out-of-memory' "$log"; then
        verdict=oom
    elif grep -aq 'ERROR: AddressSanitizer' "$log"; then
        verdict=crash
        detail=$(grep -a -m1 'ERROR: AddressSanitizer' "$log" | sed 's/^=*[0-9]*=*//')
    elif grep -aq 'deadly signal' "$log"; then
        verdict=crash
        detail=$(grep -a -m1 -B2 'deadly signal' "$log" | head -1)
    else
        verdict=error
        detail="exit $rc, see $log"
    fi
    detail="$detail [$(echo $new | tr ' ' ',')]"
fi

echo "$name|$execs|$eps|$cov|$ft|$corp|$verdict|${detail//|//}" > "$res"
echo "# $name: $execs execs, $eps exec/s, cov $cov ft $ft, corpus $corp: $verdict"
exit 0
