#!/bin/bash
# Prints the results of run.sh for the given harnesses; exits 1 if any
# found something (or did not run).
#
#   summary.sh FUZZ_DIR HARNESS...
dir=$1; shift
bad=0

printf '\n%-26s %12s %8s %7s %7s %7s  %s\n' harness executions exec/s cov ft \
    corpus verdict
for h in "$@"; do
    if [ ! -f "$dir/results/$h" ]; then
        printf '%-26s %12s %8s %7s %7s %7s  %s\n' "$h" - - - - - "did not run"
        bad=1
        continue
    fi
    IFS='|' read -r n execs eps cov ft corp verdict detail < "$dir/results/$h"
    printf '%-26s %12s %8s %7s %7s %7s  %s\n' "$n" "$execs" "$eps" "$cov" \
        "$ft" "$corp" "$verdict"
    if [ "$verdict" != clean ]; then
        printf '    %s\n    log: %s\n' "$detail" "$dir/logs/$h.log"
        bad=1
    fi
done

if [ $bad -ne 0 ]; then
    echo
    echo "fuzz: FOUND SOMETHING: reproduce with $dir/<harness> <input>;"
    echo "      keep the input in t/fuzz/regress/<harness>/ once fixed"
fi
exit $bad
