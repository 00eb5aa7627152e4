#!/usr/bin/env perl
# make bench: the ingestion figures of spec/bars.md, taken in one run.
#
# Three servers on one stock /usr/sbin/nginx, one worker each, one local
# Redis: the ceiling (`return 200` to the same POST), the same work done
# the OpenResty way (bench/openresty/enroll.lua), and caresync.  wrk, 64
# connections, the seed's enrollment payload with a distinct patient id
# per request (bench/enrollment.lua), alternating the three, several
# rounds; ratios are taken per round, side by side, and their spread is
# printed.  Then the soak: RSS of caresync's worker after 10 k and after
# 1 M requests.
#
#   BENCH_ROUNDS (3)  BENCH_SECONDS (10)  BENCH_SOAK (1000000, 0 = skip)

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use List::Util qw(min max sum);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $rounds  = $ENV{BENCH_ROUNDS}  // 3;
my $seconds = $ENV{BENCH_SECONDS} // 10;
my $soak    = $ENV{BENCH_SOAK}    // 1_000_000;
my $conns   = 64;

my $root    = abs_path('.');
my $out     = "$root/bench/out";
my $module  = $ENV{CARESYNC_MODULE} // "$root/build/ngx_http_caresync_module.so";
my $fixture = abs_path("$root/../shared/fixtures/helparound/enrollment.json");
my $nginx   = '/usr/sbin/nginx';
my $luadir  = '/usr/lib/nginx/modules';

-e $module or die "no $module: run make first\n";

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1) or die $!;
    return $s->sockport;
}

# --- Redis -----------------------------------------------------------------

my $redis_port = free_port();
remove_tree($out);
make_path("$out/redis");

my $redis_pid = fork // die;
if ($redis_pid == 0) {
    open STDOUT, '>', "$out/redis/log";
    exec 'redis-server', '--port', $redis_port, '--bind', '127.0.0.1',
         '--save', '', '--appendonly', 'no', '--dir', "$out/redis";
}

sub redis {
    my $s = IO::Socket::INET->new("127.0.0.1:$redis_port") or return;
    my $cmd = "*" . @_ . "\r\n" . join '', map { '$' . length($_) . "\r\n$_\r\n" } @_;
    print $s $cmd;
    my $line = <$s>;
    if ($line =~ /^\$(-?\d+)/) {
        return undef if $1 < 0;
        my $data = '';
        read($s, $data, $1 + 2);
        return substr($data, 0, $1);
    }
    $line =~ s/^[:+]//;
    $line =~ s/\r\n$//;
    return $line;
}

for (1 .. 50) { last if defined redis('PING'); sleep 0.1 }

# --- the three servers -----------------------------------------------------

my %port = map { $_ => free_port() } qw(ceiling openresty caresync);

my %location = (
    ceiling => <<'EOF',
        location = /webhook/user-enrollment {
            return 200 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}';
        }
EOF
    openresty => <<"EOF",
        location = /webhook/user-enrollment {
            set \$caresync_redis_port $redis_port;
            client_body_buffer_size 16k;
            content_by_lua_file $root/bench/openresty/enroll.lua;
        }
EOF
    caresync => <<'EOF',
        location = /webhook/user-enrollment {
            caresync_webhook helparound_enrollment;
            caresync_auth off;
        }
EOF
);

my %main = (
    ceiling   => '',
    openresty => "load_module $luadir/ndk_http_module.so;\n"
                 . "load_module $luadir/ngx_http_lua_module.so;\n",
    caresync  => "load_module $module;\n",
);

my %http = (
    ceiling   => '',
    openresty => "lua_package_path '/usr/share/lua/5.1/?.lua;;';\n",
    caresync  => "caresync_redis 127.0.0.1:$redis_port;\n",
);

for my $v (keys %port) {
    make_path("$out/$v/conf", "$out/$v/logs");
    open my $fh, '>', "$out/$v/conf/nginx.conf" or die $!;
    print $fh <<"EOF";
$main{$v}
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    $http{$v}
    server {
        listen 127.0.0.1:$port{$v} backlog=1024;
        keepalive_requests 1000000;
$location{$v}
    }
}
EOF
    close $fh;
    system($nginx, '-p', "$out/$v/", '-c', 'conf/nginx.conf') == 0
        or die "$v: nginx did not start (see $out/$v/logs/error.log)\n";
}

sleep 0.5;

sub worker_pid {
    my ($v) = @_;
    my $master = do { local (@ARGV, $/) = "$out/$v/logs/nginx.pid"; <> };
    chomp $master;
    my ($pid) = map { /^\s*(\d+)/ ? $1 : () }
                grep { /worker process/ } `ps -o pid=,args= --ppid $master`;
    return $pid;
}

sub rss_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return 0;
}

my $run_id = 0;

sub wrk {
    my ($v, $secs) = @_;
    $run_id++;
    my $cmd = "CARESYNC_RUN=" . ($$ * 10 + $run_id) % 10000
            . " wrk -t2 -c$conns -d${secs}s --latency -s $root/bench/enrollment.lua"
            . " http://127.0.0.1:$port{$v}/webhook/user-enrollment -- $fixture";
    my %r = (status => {});
    for (`$cmd 2>&1`) {
        $r{rps} = $1 if /^Requests\/sec:\s+([\d.]+)/;
        $r{status}{$1} = $2 if /^status (\d+) (\d+)/;
        $r{p50} = $1 / 1000 if /^latency_p50_us (\d+)/;
        $r{p99} = $1 / 1000 if /^latency_p99_us (\d+)/;
        $r{requests} = $1 if /^requests (\d+)/;
        $r{errors} = $1 if /Socket errors: (.*)/;
    }
    die "$v: wrk gave no figures\n" unless $r{rps};
    return \%r;
}

sub commands_done {
    my $info = '';
    my $s = IO::Socket::INET->new("127.0.0.1:$redis_port") or die;
    print $s "INFO commandstats\r\n";
    my $len = <$s>;
    $len =~ /^\$(\d+)/ or die;
    read($s, $info, $1);
    # only what arrives from the network: commandstats also counts the
    # SET and XADD run inside our script
    my $calls = 0;
    $calls += $1 while $info =~ /cmdstat_(?:evalsha|eval):calls=(\d+)/g;
    return $calls;
}

# --- rounds ----------------------------------------------------------------

printf "caresync ingestion benchmark: wrk -c%d, %d s per run, %d rounds\n",
       $conns, $seconds, $rounds;
printf "payload: %s (%d bytes), a distinct patient id per request\n\n",
       $fixture, -s $fixture;

# warm-up: connections, the script cache, the Lua code cache
wrk($_, 1) for qw(ceiling openresty caresync);

my (%fig, @vs_ceiling, @vs_openresty, @lost, @extra, @trips);

for my $round (1 .. $rounds) {
    my %r;
    for my $v (qw(ceiling openresty caresync)) {
        my ($before, $cmds) = (redis('XLEN', '{caresync}:jobs'), 0);
        $cmds = -commands_done() if $v eq 'caresync';
        $r{$v} = wrk($v, $seconds);
        push @{ $fig{$v} }, $r{$v};

        if ($v eq 'caresync') {
            sleep 0.5;          # let the last in-flight replies land
            my $jobs = redis('XLEN', '{caresync}:jobs') - $before;
            my $ok = $r{$v}{status}{200} // 0;
            $cmds += commands_done();
            push @extra, $jobs - $ok;
            push @trips, $ok ? $cmds / $ok : 0;
        }

        printf "round %d  %-9s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  %s\n",
               $round, $v, $r{$v}{rps}, $r{$v}{p50}, $r{$v}{p99},
               join(' ', map { "$_:$r{$v}{status}{$_}" }
                         sort keys %{ $r{$v}{status} });
    }
    push @vs_ceiling, $r{caresync}{rps} / $r{ceiling}{rps};
    push @vs_openresty, $r{caresync}{rps} / $r{openresty}{rps};
}

sub spread {
    my @x = @_;
    return sprintf "%.2f (%.2f–%.2f)", sum(@x) / @x, min(@x), max(@x);
}

my @p99 = map { $_->{p99} } @{ $fig{caresync} };

print "\n";
printf "caresync / ceiling     %s   bar ≥ 0.30\n", spread(@vs_ceiling);
printf "caresync / OpenResty   %s   bar ≥ 1.50\n", spread(@vs_openresty);
printf "caresync p99           %.2f ms (worst round)   bar ≤ 5 ms\n", max(@p99);
printf "Redis round trips/200  %s   bar ≤ 1 (one EVALSHA, pipelined on one connection per worker)\n", spread(@trips);
printf "jobs − 200s per run    %s   (requests wrk abandoned in flight at "
       . "its stop, ≤ %d connections; 0 would mean none)\n",
       join(' ', @extra), $conns;

# every patient id in the stream once: nothing doubled
my $dups = redis('EVAL', <<'EOF', 1, '{caresync}:jobs');
local seen, dups = {}, 0
local cursor = '-'
while true do
  local batch = redis.call('XRANGE', KEYS[1], cursor, '+', 'COUNT', 1000)
  if #batch == 0 then break end
  for _, e in ipairs(batch) do
    local id = string.match(e[2][2], '"source_id":"([^"]+)"') or e[1]
    if seen[id] then dups = dups + 1 else seen[id] = true end
    cursor = '(' .. e[1]
  end
end
return dups
EOF
printf "jobs queued twice      %d   bar 0\n", $dups;

# --- soak ------------------------------------------------------------------

if ($soak) {
    redis('DEL', '{caresync}:jobs');
    my $pid = worker_pid('caresync');
    my $done = 0;
    my $r = wrk('caresync', 1);
    $done += $r->{requests};
    my $rss10k = rss_kb($pid);
    printf "\nsoak: RSS after %d requests: %d kB\n", $done, $rss10k;
    while ($done < $soak) {
        $r = wrk('caresync', 10);
        $done += $r->{requests};
        redis('DEL', '{caresync}:jobs');    # Redis's memory is not ours
    }
    my $rss1m = rss_kb($pid);
    printf "soak: RSS after %d requests: %d kB   growth %+.1f %%   bar within 5 %%\n",
           $done, $rss1m, 100 * ($rss1m - $rss10k) / $rss10k;
}

# --- done ------------------------------------------------------------------

for my $v (keys %port) {
    system($nginx, '-p', "$out/$v/", '-c', 'conf/nginx.conf', '-s', 'quit');
}
kill 'TERM', $redis_pid;
waitpid $redis_pid, 0;
