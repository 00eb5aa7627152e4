#!/bin/bash
# Runs each harness once over its committed reproducers
# (t/fuzz/regress/<h>/) and hand-written seeds (t/fuzz/seeds/<h>/),
# without fuzzing.  Exits 1 if any input fails.
#
#   regress.sh FUZZ_DIR T_FUZZ_DIR HARNESS...
set -uo pipefail
dir=$1; here=$2; shift 2
bad=0

mkdir -p "$dir/logs"
for h in "$@"; do
    mapfile -t files < <(find "$here/regress/$h" "$here/seeds/$h" \
        -maxdepth 1 -type f ! -name '.*' ! -name '*.md' 2>/dev/null | sort)
    if [ ${#files[@]} -eq 0 ]; then
        printf '%-26s no inputs\n' "$h"
        continue
    fi
    log=$dir/logs/$h.regress.log
    if UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
       "$dir/$h" -rss_limit_mb=2048 -timeout=5 "${files[@]}" > "$log" 2>&1
    then
        printf '%-26s %4d inputs ok\n' "$h" ${#files[@]}
    else
        failed=$(grep -a 'Running: ' "$log" | tail -1 | sed 's/^Running: //')
        printf '%-26s FAILED on %s (log: %s)\n' "$h" "$failed" "$log"
        grep -a -m1 -A1 '==FUZZ INVARIANT==\|ERROR: \|runtime error' "$log" |
            sed 's/^/    /'
        bad=1
    fi
done
exit $bad
