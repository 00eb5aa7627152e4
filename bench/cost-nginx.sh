#!/bin/bash
# The instructions the nginx worker costs per enrollment, counted by
# callgrind on the real server: the stock /usr/sbin/nginx with the module,
# `master_process off; daemon off;` (the one process is the worker), one
# local Redis, the seed's enrollment with a distinct patient id per
# request, sent one after the other on one keep-alive connection.
#
#   bench/cost-nginx.sh [N] [TOP]      (make cost-nginx)
#
# N requests (default 2000) warm up uninstrumented, then callgrind starts
# counting (callgrind_control -i on: zeroing with -z instead leaves every
# cost on the frames already open), N more are sent and counted, and the
# profile is dumped (callgrind_control -d).  Every answer must be a 200 and every
# request a job in the stream.  Prints instructions per enrollment, the
# TOP (default 15) functions by their own instructions and the sums by
# library; the callgrind files stay in $BUILD/cost-nginx/.
#
# Knobs: PORT (default 2601), REDIS_PORT (default PORT + 1000), NGINX,
# CARESYNC_FIXTURES, KEEP_RAW (on).
set -euo pipefail
n=${1:-2000}
top=${2:-15}
build=${BUILD:-build}
root=$(pwd)
fixtures=${CARESYNC_FIXTURES:-../shared/fixtures}
port=${PORT:-2601}
rport=${REDIS_PORT:-$((port + 1000))}
nginx=${NGINX:-/usr/sbin/nginx}
module=$root/$build/ngx_http_caresync_module.so
dir=$root/$build/cost-nginx

[ -f "$module" ] || make --no-print-directory BUILD="$build" module >/dev/null
rm -rf "$dir"
mkdir -p "$dir/conf" "$dir/logs" "$dir/redis"

auth=
grep -qs '"caresync_auth"' ngx_module/*.c && auth='caresync_auth off;'

cat > "$dir/conf/nginx.conf" <<EOF
load_module $module;
master_process off;
daemon off;
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    caresync_redis 127.0.0.1:$rport;
    server {
        listen 127.0.0.1:$port;
        keepalive_requests 1000000;
        location = /webhook/user-enrollment {
            caresync_webhook helparound_enrollment;
            caresync_keep_raw ${KEEP_RAW:-on};
            $auth
        }
    }
}
EOF

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir/redis" > "$dir/redis/log" 2>&1 &
pids+=($!)

valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$dir/callgrind.out.%p" \
    "$nginx" -p "$dir/" -c conf/nginx.conf > "$dir/valgrind.log" 2>&1 &
vpid=$!
pids+=($vpid)

# the client: N requests, each checked, on one connection
client() {
    perl -MIO::Socket::INET -e '
        my ($port, $file, $from, $n) = @ARGV;
        open my $fh, "<", $file or die "$file: $!";
        my $body = do { local $/; <$fh> };
        my ($head, $tail) = $body =~ /^(.*?"id": ")ha61236024160af(".*)$/s
            or die "patient id not found in $file\n";
        my $s;
        for (1 .. 300) {
            $s = IO::Socket::INET->new("127.0.0.1:$port") and last;
            select undef, undef, undef, 0.1;
        }
        $s or die "nginx does not answer on $port\n";
        for my $i ($from .. $from + $n - 1) {
            my $b = $head . sprintf("h%014d", $i) . $tail;
            print $s "POST /webhook/user-enrollment HTTP/1.1\r\n"
                . "Host: localhost\r\nContent-Type: application/json\r\n"
                . "Content-Length: " . length($b) . "\r\n\r\n" . $b;
            my $h = "";
            while ($h !~ /\r\n\r\n/) {
                sysread($s, $h, 4096, length $h) or die "connection lost\n";
            }
            my ($st) = $h =~ m{^HTTP/1\.1 (\d+)} or die "no status\n";
            my ($cl) = $h =~ /Content-Length: (\d+)/i;
            my $rest = substr($h, index($h, "\r\n\r\n") + 4);
            while (length $rest < $cl) {
                sysread($s, $rest, 4096, length $rest) or die "lost\n";
            }
            $st == 200 or die "request $i: $st $rest\n";
        }
    ' "$port" "$fixtures/helparound/enrollment.json" "$1" "$2"
}

redis_cli() { redis-cli -p "$rport" "$@"; }

client 0 "$n"
callgrind_control -i on "$vpid" > /dev/null 2>&1
jobs0=$(redis_cli XLEN "{caresync}:jobs")
client "$n" "$n"
callgrind_control -d "$vpid" > /dev/null 2>&1
jobs1=$(redis_cli XLEN "{caresync}:jobs")

dump=$(ls -t "$dir"/callgrind.out.*.* 2>/dev/null | head -1)
[ -n "$dump" ] || { echo "no dump"; cat "$dir/valgrind.log"; exit 1; }

echo "jobs added while counting: $((jobs1 - jobs0)) of $n requests"
total=$(callgrind_annotate "$dump" 2>/dev/null |
        awk '/PROGRAM TOTALS/ && !t { gsub(",", "", $1); t = $1 } END { print t }')
echo "== nginx worker: $((total / n)) instructions per enrollment (N=$n)"
callgrind_annotate "$dump" 2>/dev/null |
    awk -v top="$top" -v n="$n" '
        /file:function/ { on = 1; next }
        on && match($0, /^ *[0-9,]+ +\( *[0-9.]+%\) +/) && k < top {
            ir = $1; gsub(",", "", ir)
            printf "  %8d  %s\n", ir / n, substr($0, RLENGTH + 1)
            k++
        }'
callgrind_annotate "$dump" 2>/dev/null |
    awk -v n="$n" '
        /file:function/ { on = 1; next }
        on && /^ *[0-9,]+ / && match($0, /\[[^]]*\]$/) {
            ir = $1; gsub(",", "", ir)
            obj = substr($0, RSTART + 1, RLENGTH - 2); sub(/.*\//, "", obj)
            sum[obj] += ir
        }
        END { for (o in sum) printf "  %8d  in %s\n", sum[o] / n, o }' |
    sort -rn | head -12
