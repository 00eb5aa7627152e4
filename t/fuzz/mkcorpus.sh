#!/bin/bash
# Seeds one harness's corpus from the shared fixtures and t/fuzz/seeds.
#
#   mkcorpus.sh HARNESS OUTDIR FIXTURES SEEDS
#
# Files are named by the SHA-1 of their content, as libFuzzer names what
# it adds, so seeding again is idempotent.  A harness whose input starts
# with a selector byte gets each fixture behind several selectors.
set -euo pipefail
name=$1; out=$2; fx=$3; seeds=$4

mkdir -p "$out"

# put SELECTOR-OCTAL FILE|-  (- : stdin)
put() {
    local tmp h
    tmp=$(mktemp "$out/.seed.XXXXXX")
    { [ -n "$1" ] && printf "\\$1"; cat "$2"; } > "$tmp"
    h=$(sha1sum "$tmp" | cut -c1-40)
    mv -f "$tmp" "$out/$h"
}

# value TEXT: selector + text, no newline
putv() { printf '%s' "$2" | put "$1" -; }

fixtures() {
    local d
    for d in "$@"; do
        [ -d "$fx/$d" ] || continue
        find "$fx/$d" -maxdepth 1 -type f \( -name '*.json' -o -name '*.txt' \
            -o -name '*.csv' \) | LC_ALL=C sort
    done
}

# JSON string values of the given keys, one a line (fixtures are simple)
values() {
    local keys=$1; shift
    fixtures "$@" | while read -r f; do
        grep -ohE "\"($keys)\": *\"[^\"]*\"" "$f" || true
    done | sed -E 's/^"[^"]*": *"(.*)"$/\1/' | LC_ALL=C sort -u
}

case $name in

fuzz_ingest_helparound)
    # enroll, action, +keep_raw, depth 2 / 32 / 2049, partner "Source",
    # now out of range
    for f in $(fixtures helparound hint); do
        for sel in 000 001 002 003 010 011 054 055 076 077 102 103 201; do
            put $sel "$f"
        done
    done ;;

fuzz_ingest_hint)
    # +keep_raw, max_values 40, depth 32 / 2049, max_raw 256
    for f in $(fixtures hint helparound); do
        for sel in 000 001 002 003 054 055 077 101 103; do
            put $sel "$f"
        done
    done ;;

fuzz_ingest_action)
    for f in $(fixtures hint); do put 000 "$f"; done ;;

fuzz_json_scan)
    # depth index 0 (0), 3 (3), 7 (32), 15 (unlimited); values index
    # 0 (unlimited), 10 (32), 13 (1000)
    for f in $(fixtures helparound hint healthsherpa salesforce); do
        for sel in 000 003 007 017 247 327; do put $sel "$f"; done
    done ;;

fuzz_json_diff)
    # as fuzz_json_scan, and depth 2048 / 2049 (jansson's own limit)
    for f in $(fixtures helparound hint healthsherpa salesforce); do
        for sel in 000 003 007 015 016 247 327; do put $sel "$f"; done
    done ;;

fuzz_worker_json)
    # vendors' answers as they come; envelopes are in the seeds
    for f in $(fixtures helparound hint healthsherpa salesforce); do
        put "" "$f"
    done ;;

fuzz_seal)
    # opened as they are (in the clear), and sealed with a head of
    # sel-chosen length, under k1 and k2
    for f in $(fixtures helparound hint); do
        for sel in 000 001 003 101 103; do put $sel "$f"; done
    done ;;

fuzz_time)
    values 'sendDate|created_at|updated_at|dob|date|timestamp' \
        helparound hint healthsherpa salesforce |
    while IFS= read -r v; do
        putv 000 "$v"; putv 001 "$v"
    done ;;

fuzz_normalize)
    # 0 phone, 1 state, 2 zip, 3 email, 4 gender, 5 country,
    # 6 trim, 7 collapse, 8 put_name
    values 'phoneNumber|phone|number|Phone|MobilePhone' helparound hint \
        healthsherpa salesforce | while IFS= read -r v; do putv 000 "$v"; done
    values 'state|address_state|State|MailingState' helparound hint \
        healthsherpa salesforce | while IFS= read -r v; do putv 001 "$v"; done
    values 'zip|address_zip|zip_code|MailingPostalCode' helparound hint \
        healthsherpa salesforce | while IFS= read -r v; do putv 002 "$v"; done
    values 'email|Email' helparound hint healthsherpa salesforce |
        while IFS= read -r v; do putv 003 "$v"; done
    values 'gender|sex' helparound hint healthsherpa salesforce |
        while IFS= read -r v; do putv 004 "$v"; done
    values 'address_country|country' hint healthsherpa salesforce |
        while IFS= read -r v; do putv 005 "$v"; done
    values 'firstName|lastName|first_name|last_name|name' helparound hint |
        while IFS= read -r v; do putv 010 "  $v  x"; done ;;

esac

if [ -d "$seeds/$name" ]; then
    find "$seeds/$name" -maxdepth 1 -type f ! -name '.*' | LC_ALL=C sort |
    while read -r f; do put "" "$f"; done
fi

touch "$out/.seeded"
