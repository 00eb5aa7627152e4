#!/bin/bash
# The instructions cs_ingest() costs per request, counted by callgrind
# (instructions repeat from run to run, unlike times on a shared machine).
#
#   bench/cost-core.sh [N] [TOP]      (make cost-core)
#
# Builds $BUILD/cost-core (bench/cost-core.c over $BUILD/libcaresync.a),
# then for the enrollment, a user action and a Hint event: N requests of
# warm-up, N counted (default 1000), each with its own id.  Prints the
# instructions per request, the TOP (default 12) functions by their own
# instructions and the sums by library; the callgrind files stay in $BUILD/cost/ for
# callgrind_annotate.
set -euo pipefail
n=${1:-1000}
top=${2:-12}
build=${BUILD:-build}
fixtures=${CARESYNC_FIXTURES:-../shared/fixtures}
cc=${CC:-cc}

make --no-print-directory BUILD="$build" core >/dev/null
mkdir -p "$build/cost"
$cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -g -Isrc bench/cost-core.c \
    "$build/libcaresync.a" -ljansson -lcrypto -o "$build/cost-core"

for spec in enrollment:helparound/enrollment.json \
            user_action:helparound/user-action.json \
            hint:hint/patient.created.json; do
    kind=${spec%%:*}
    file=$fixtures/${spec#*:}
    out=$build/cost/callgrind.$kind
    valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out" \
        "$build/cost-core" "$kind" "$file" "$n" > "$build/cost/$kind.log" 2>&1 || {
        cat "$build/cost/$kind.log"; exit 1; }
    total=$(callgrind_annotate "$out" 2>/dev/null |
            awk '/PROGRAM TOTALS/ && !t { gsub(",", "", $1); t = $1 } END { print t }')
    echo "== $kind ($(wc -c < "$file") bytes): $((total / n)) instructions per request"
    callgrind_annotate "$out" 2>/dev/null |
        awk -v top="$top" -v n="$n" '
            /file:function/ { on = 1; next }
            on && match($0, /^ *[0-9,]+ +\( *[0-9.]+%\) +/) && k < top {
                ir = $1; gsub(",", "", ir)
                printf "  %8d  %s\n", ir / n, substr($0, RLENGTH + 1)
                k++
            }'
    # by object: the core, jansson, libc, libcrypto …
    callgrind_annotate "$out" 2>/dev/null |
        awk -v n="$n" '
            /file:function/ { on = 1; next }
            on && /^ *[0-9,]+ / && match($0, /\[[^]]*\]$/) {
                ir = $1; gsub(",", "", ir)
                obj = substr($0, RSTART + 1, RLENGTH - 2); sub(/.*\//, "", obj)
                sum[obj] += ir
            }
            END { for (o in sum) printf "  %8d  in %s\n", sum[o] / n, o }' |
        sort -rn
done
