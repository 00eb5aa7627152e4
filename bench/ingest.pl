#!/usr/bin/env perl
# make bench: the ingestion figures of spec/bars.md, taken in one run
# (docs/performance.md says how to read them).
#
# Three servers on the stock /usr/sbin/nginx and one local Redis: the
# ceiling (`return 200` to the same POST), the same work done the OpenResty
# way (bench/openresty/enroll.lua) and caresync.  Every request is the
# seed's enrollment payload with a distinct patient id.
#
#  1. Instructions per request (callgrind).  Each nginx runs as one process
#     under valgrind, and so does Redis (at hz 1). After a warm-up, windows
#     of a fixed number of requests on keep-alive connections, counters
#     reset before each window and dumped after it.  A window counts only
#     if every request was answered 200 and queued exactly one job.
#  2. Wall clock: short wrk rounds, the three servers in turn (the order
#     rotates), ratios and p99 differences taken per round, their median
#     printed with its spread; the difference of the mean latencies beside
#     what the throughputs predict for it (connections / req/s).
#  2b. Latency at a fixed rate: the same interleaved rounds, each server
#     offered the same request rate (half the OpenResty way's median
#     throughput in 2, or BENCH_RATE) by an open loop (bench/openloop.c)
#     that times each request from when it was due; the servers'
#     processes and the load SCHED_FIFO meanwhile.  The p99 bar is taken
#     here, as caresync's p99 − the ceiling's per round.
#  3. Accounting over those rounds: Redis round trips (EXEC for a group
#     of jobs, EVALSHA for any other command), jobs per group and Redis's
#     time per group, jobs − 200s, jobs queued twice.
#  4. The soak: RSS of caresync's nginx worker after 10 k and after 1 M
#     requests.
# Then every figure against its bar, PASS or MISS.
#
# Knobs (defaults):
#   BENCH_CALLGRIND_REQUESTS  requests per window (2000; 0 skips 1)
#   BENCH_CALLGRIND_WARMUP    requests before the windows (500)
#   BENCH_CALLGRIND_WINDOWS   windows per server and load (2)
#   BENCH_ROUNDS              wall-clock rounds (15; 0 skips 2 and 3)
#   BENCH_ROUND_SECONDS       seconds per server and round (2)
#   BENCH_RATE_ROUNDS         fixed-rate rounds (15; 0 skips 2b)
#   BENCH_RATE_SECONDS        seconds per server and fixed-rate round (3)
#   BENCH_RATE_SHARE          the fixed rate, of the OpenResty way's
#                             median req/s in 2 (0.5)
#   BENCH_RATE                a fixed rate in req/s instead (needed when
#                             BENCH_ROUNDS is 0)
#   BENCH_RATE_SCHED          fifo (SCHED_FIFO during 2b) or other
#   BENCH_REDIS               tcp (loopback) or unix: how both servers that
#                             write to Redis reach it
#   BENCH_SOAK                soak requests (1000000; 0 skips 4)
#   BENCH_SEAL                caresync seals each job's PHI under a job key
#                             (caresync_job_key), as in production (1; 0:
#                             caresync_job_key off, to measure the seal)
# It exits 1 when it refused a figure: requests that did not succeed.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use List::Util qw(max min sum);
use Time::HiRes qw(sleep time);

use Caresync::Bench::Callgrind;
use Caresync::Bench::Load qw(post wrk openloop fixture);
use Caresync::Bench::Servers qw(@SERVERS redis_start redis_stop
                                commandstats);
use Caresync::Bench::Stats qw(median spread verdict);

binmode STDOUT, ':encoding(UTF-8)';
$| = 1;

my $cg_requests = $ENV{BENCH_CALLGRIND_REQUESTS} // 2000;
my $cg_warmup   = $ENV{BENCH_CALLGRIND_WARMUP}   // 500;
my $cg_windows  = $ENV{BENCH_CALLGRIND_WINDOWS}  // 2;
my $rounds      = $ENV{BENCH_ROUNDS}             // 15;
my $round_secs  = $ENV{BENCH_ROUND_SECONDS}      // 2;
my $soak        = $ENV{BENCH_SOAK}               // 1_000_000;
my $rate_fixed  = $ENV{BENCH_RATE};
my $rate_share  = $ENV{BENCH_RATE_SHARE}         // 0.5;
my $rate_rounds = $ENV{BENCH_RATE_ROUNDS}        // 15;
my $rate_secs   = $ENV{BENCH_RATE_SECONDS}       // 3;

# The nginx figure is taken on 32 connections, the Redis one on 64 (the
# bars' load): the module pipelines, so Redis's cost per job depends on
# how many requests are in flight at once.
my $NGINX_CONNS = 32;
my $REDIS_CONNS = 64;
my $WRK_CONNS   = 64;

my $OUT = "$FindBin::Bin/out";
my %NAME = (ceiling => 'ceiling', openresty => 'OpenResty',
            caresync => 'caresync');

my @verdicts;   # [figure, measured, bar, PASS | MISS | REFUSED | INFO]
my $refused = 0;

sub figure {
    my ($label, $value, $bar, $verdict) = @_;
    push @verdicts, [$label, $value, $bar, $verdict];
    $refused = 1 if $verdict eq 'REFUSED';
}

# Distinct patient ids across every load this script sends.
my $runs = 0;
sub run_id { ($$ * 10 + ++$runs) % 10000 }

sub xlen {
    my ($redis, $s) = @_;
    return $s->stream ? $redis->{r}->cmd('XLEN', $s->stream) : 0;
}

# Redis round trips of caresync's requests so far, and its groups: a
# group of jobs is one transaction (one EXEC), any other command of a
# request one EVALSHA (a NOSCRIPT retry counts as a second).
sub round_trips {
    my ($redis) = @_;
    my $c = commandstats($redis->{r});
    my $u = commandstats($redis->{r}, 'usec');
    return { trips => ($c->{exec} // 0) + ($c->{evalsha} // 0),
             groups => $c->{exec} // 0, usec => $u->{exec} // 0 };
}

# What round_trips() counted between two of its answers.
sub trips_since {
    my ($redis, $before) = @_;
    my $now = round_trips($redis);
    return { map { $_ => $now->{$_} - $before->{$_} } keys %$now };
}

sub statuses {
    my ($st) = @_;
    return join ' ', map { "$_:$st->{$_}" } sort keys %$st;
}

sub all_200 { !grep { $_ != 200 } keys %{ $_[0]{status} } }

sub kilo { sprintf '%.1f k', $_[0] / 1000 }

my $started = time;
print "caresync ingestion benchmark (bars: ../shared/spec/bars.md)\n";
printf "payload: %s (%d bytes), a distinct patient id per request\n",
       fixture(), -s fixture();

# --- 1. instructions per request --------------------------------------------

# "libjansson.so.4 60 %, …": the objects (program, libraries) that ran
# most in a dump, and the rest.
sub where {
    my ($dump) = @_;
    my $by = Caresync::Bench::Callgrind::by_object($dump);
    my $total = sum(values %$by) || 1;
    my @top = grep { $by->{$_} >= $total / 100 }
              (sort { $by->{$b} <=> $by->{$a} } keys %$by)[0 .. 3];
    my $rest = $total;
    my @parts;
    for my $ob (@top) {
        $rest -= $by->{$ob};
        (my $short = $ob) =~ s{.*/}{};
        $short =~ s/(\.so\.\d+)[.\d]*$/$1/;
        # Debian's redis-server is a link to redis-check-rdb
        $short = 'redis-server' if $short eq 'redis-check-rdb';
        push @parts, sprintf '%s %.0f %%', $short, 100 * $by->{$ob} / $total;
    }
    push @parts, sprintf 'other %.0f %%', 100 * $rest / $total
        if $rest >= $total / 200;
    return join ', ', @parts;
}

# One window: $n requests counted in nginx's worker and in Redis.
sub window {
    my ($s, $redis, $conns, $n) = @_;
    # Each window starts from an empty Redis, so that each does the same
    # work: the stream's radix tree and the key table grow the same way
    # (a doubling of the table rehashes every key, a lump that a window
    # would otherwise have or not).
    $redis->{r}->cmd('FLUSHALL', 'SYNC');
    my $cmds = round_trips($redis);
    Caresync::Bench::Callgrind::zero($s->worker_pid);
    Caresync::Bench::Callgrind::zero($redis->{pid});
    my $r = post($s, $conns, $n, run_id());
    my $nginx = Caresync::Bench::Callgrind::dump_summary(
        $s->worker_pid, $s->{callgrind});
    my $rd = Caresync::Bench::Callgrind::dump_summary(
        $redis->{pid}, $redis->{callgrind});
    return { nginx => $nginx->[0], nginx_dump => $nginx->[1],
             redis => $rd->[0], redis_dump => $rd->[1],
             status => $r->{status}, ok => $r->{status}{200} // 0,
             jobs => xlen($redis, $s), cmds => trips_since($redis, $cmds) };
}

# The windows of one server under one load, and what they add up to.
sub count {
    my ($s, $redis, $conns) = @_;
    post($s, $conns, $cg_warmup, run_id());
    my @w = map { window($s, $redis, $conns, $cg_requests) } 1 .. $cg_windows;
    my %f = (ok => 1, stream => $s->stream, last => $w[-1]);
    for my $w (@w) {
        next if $w->{ok} == $cg_requests
                && $w->{jobs} == ($s->stream ? $cg_requests : 0);
        $f{ok} = 0;
        $f{why} = sprintf 'REFUSED: %d requests: %s, %d jobs',
                          $cg_requests, statuses($w->{status}), $w->{jobs};
    }
    for my $what (qw(nginx redis)) {
        my @x = map { $_->{$what} / $cg_requests } @w;
        my $mean = sum(@x) / @x;
        $f{$what} = $mean;
        # how far apart the windows are, of their mean
        $f{"${what}_apart"} = $mean ? 100 * (max(@x) - min(@x)) / $mean : 0;
    }
    if ($f{ok} && $s->stream && $s->{name} eq 'caresync') {
        $f{trips} = sum(map { $_->{cmds}{trips} } @w)
                    / sum(map { $_->{ok} } @w);
        my $groups = sum(map { $_->{cmds}{groups} } @w);
        $f{group} = $groups ? sum(map { $_->{jobs} } @w) / $groups : 0;
    }
    $f{checked} = sprintf '%d requests: %d 200s, %d jobs',
                          $cg_windows * $cg_requests,
                          sum(map { $_->{ok} } @w), sum(map { $_->{jobs} } @w);
    return \%f;
}

my %cg;     # {server}{conns} = count()'s figures

if ($cg_requests > 0) {
    printf "\n1. Instructions per request (callgrind): %d requests to warm "
           . "up, then %d windows\n   of %d, counters reset before each; "
           . "nginx as one process, Redis at hz 1\n\n",
           $cg_warmup, $cg_windows, $cg_requests;

    my $dir = "$OUT/callgrind";
    my $redis = redis_start(dir => "$dir/redis",
                            callgrind => "$dir/redis/callgrind");

    printf "  %-9s %5s  %-22s  %-22s  %s\n", 'server', 'conns',
           'nginx worker / request', 'Redis / job', 'checked';
    for my $name (@SERVERS) {
        my $s = Caresync::Bench::Servers->new($name, dir => "$dir/$name",
                                              redis => $redis);
        $s->start_callgrind("$dir/$name/callgrind");
        for my $conns ($NGINX_CONNS, $REDIS_CONNS) {
            my $f = $cg{$name}{$conns} = count($s, $redis, $conns);
            my @col = map { sprintf '%9s (Δ %.2f %%)', kilo($f->{$_}),
                                    $f->{"${_}_apart"} } qw(nginx redis);
            $col[1] = sprintf '%9s (idle)', kilo($f->{redis})
                unless $s->stream;
            printf "  %-9s %5d  %-22s  %-22s  %s\n", $NAME{$name}, $conns,
                   $f->{ok} ? (@col, $f->{checked}) : ('', '', $f->{why});
        }
        $s->stop;
    }
    redis_stop($redis);

    print "\n  Δ: how far apart the windows are, of their mean";
    # the ceiling's Redis is idle: its few instructions spread widely
    my @unstable = grep { $_->{ok} && ($_->{nginx_apart} > 1
                                   || $_->{stream} && $_->{redis_apart} > 1) }
                   map { values %$_ } values %cg;
    print @unstable ? "; over 1 % in some: not stable\n" : "\n";

    print "\n  where they go (the last window, by object):\n";
    for my $what ([nginx => $NGINX_CONNS], [redis => $REDIS_CONNS]) {
        my ($part, $conns) = @$what;
        for my $name (qw(openresty caresync)) {
            my $f = $cg{$name}{$conns};
            printf "    %-9s %-5s %d conns: %s\n", $NAME{$name}, $part,
                   $conns, where($f->{last}{"${part}_dump"}) if $f->{ok};
        }
    }

    for my $fig (['nginx worker instructions / enrollment', 'nginx',
                  $NGINX_CONNS, 120_000],
                 ['Redis instructions / job', 'redis', $REDIS_CONNS,
                  75_000]) {
        my ($label, $part, $conns, $bar) = @$fig;
        my ($c, $o) = map { $cg{$_}{$conns} } qw(caresync openresty);
        $label .= ", $conns conns";
        if (!$c->{ok} || !$o->{ok}) {
            figure($label, 'requests failed', '≤ ' . kilo($bar), 'REFUSED');
            next;
        }
        figure($label, sprintf('%s (OpenResty %s, × %.2f)', kilo($c->{$part}),
                               kilo($o->{$part}), $c->{$part} / $o->{$part}),
               '≤ ' . kilo($bar), verdict($c->{$part}, '<=', $bar));
    }
    my $t = $cg{caresync}{$REDIS_CONNS};
    figure("Redis round trips / 200 (EXEC + EVALSHA), $REDIS_CONNS conns",
           $t->{ok} ? (sprintf('%.3f (%.1f jobs per group)', $t->{trips},
                               $t->{group}), '≤ 1',
                       verdict($t->{trips}, '<=', 1))
                    : ('requests failed', '≤ 1', 'REFUSED'));
}

# --- 2. and 3. wall clock, interleaved rounds -------------------------------

my ($redis, %srv);
my $sat_openresty;  # the OpenResty way's median req/s at saturation (2)

if ($rounds > 0 || $rate_rounds > 0 || $soak > 0) {
    $redis = redis_start(dir => "$OUT/wall/redis");
    %srv = map { $_ => Caresync::Bench::Servers->new($_,
                           dir => "$OUT/wall/$_", redis => $redis) } @SERVERS;
    $_->start for values %srv;
}

# every patient id in a stream once: nothing doubled
my $DUPS = <<'EOF';
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

if ($rounds > 0) {
    printf "\n2. Wall clock: %d rounds of %d s per server, wrk -t2 -c%d, "
           . "the order rotating\n\n", $rounds, $round_secs, $WRK_CONNS;

    # warm-up: connections, the script cache, the Lua code cache
    wrk($srv{$_}, $WRK_CONNS, 1, run_id()) for @SERVERS;
    $redis->{r}->cmd('DEL', $_->stream) for grep { $_->stream } values %srv;

    my (%rps, %p99, @vs_or, @vs_ceil, @dp99, @dmean, @little, %extra,
        @trips, @groups, @group_usec, @bad);
    my $dups = 0;

    printf "  %5s  %-17s  %-17s  %-17s  %5s %6s %8s\n", 'round',
           'ceiling  req/s p99', 'OpenResty', 'caresync', 'c/OR', 'c/ceil',
           'Δp99 ms';
    for my $round (1 .. $rounds) {
        my $k = ($round - 1) % @SERVERS;
        my %r;
        for my $name (@SERVERS[$k .. $#SERVERS], @SERVERS[0 .. $k - 1]) {
            my $s = $srv{$name};
            my $cmds = round_trips($redis);
            my $r = $r{$name} = wrk($s, $WRK_CONNS, $round_secs, run_id());
            push @bad, "round $round $NAME{$name}: " . statuses($r->{status})
                unless all_200($r);
            next unless $s->stream;
            sleep 0.5;          # the replies wrk abandoned at its stop land
            my $jobs = xlen($redis, $s);
            push @{ $extra{$name} }, $jobs - ($r->{status}{200} // 0);
            if ($name eq 'caresync') {
                # per job, not per 200: the requests wrk abandons at its
                # stop are queued but not counted (section 1 is exact)
                my $t = trips_since($redis, $cmds);
                push @trips, $jobs ? $t->{trips} / $jobs : 0;
                push @groups, $t->{groups} ? $jobs / $t->{groups} : 0;
                push @group_usec, $t->{groups} ? $t->{usec} / $t->{groups}
                                               : 0;
                $dups += $redis->{r}->cmd('EVAL', $DUPS, 1, $s->stream);
            }
            # Redis's memory is not what is measured
            $redis->{r}->cmd('DEL', $s->stream);
        }
        push @{ $rps{$_} }, $r{$_}{rps} for @SERVERS;
        push @{ $p99{$_} }, $r{$_}{p99} for @SERVERS;
        push @vs_or, $r{caresync}{rps} / $r{openresty}{rps};
        push @vs_ceil, $r{caresync}{rps} / $r{ceiling}{rps};
        push @dp99, $r{caresync}{p99} - $r{ceiling}{p99};
        push @dmean, $r{caresync}{mean} - $r{ceiling}{mean};
        # a closed loop of $WRK_CONNS connections: mean latency is
        # connections / throughput (Little's law)
        push @little, 1000 * $WRK_CONNS
                      * (1 / $r{caresync}{rps} - 1 / $r{ceiling}{rps});
        printf "  %5d  %s  %5.2f %6.2f %+8.2f\n", $round,
               join('  ', map { sprintf '%7.0f %6.2f ms', $r{$_}{rps},
                                        $r{$_}{p99} } @SERVERS),
               $vs_or[-1], $vs_ceil[-1], $dp99[-1];
    }

    print "\n  medians of the rounds (IQR, min–max):\n";
    for my $name (@SERVERS) {
        printf "    %-9s %s req/s, p99 %s ms\n", $NAME{$name},
               spread('%.0f', @{ $rps{$name} }),
               spread('%.2f', @{ $p99{$name} });
    }
    printf "    caresync / ceiling throughput %s\n",
           spread('%.2f', @vs_ceil);
    printf "    caresync − ceiling mean latency %s ms\n",
           spread('%+.2f', @dmean);
    printf "      %d / req/s of each predicts   %s ms\n", $WRK_CONNS,
           spread('%+.2f', @little);

    my $n = @vs_or;
    if (@bad) {
        print "\n  answers other than 200:\n";
        print "    $_\n" for @bad;
        figure('throughput caresync / OpenResty', 'not all 200', '≥ 1.5',
               'REFUSED');
    } else {
        figure("throughput caresync / OpenResty, median of $n rounds",
               spread('%.2f', @vs_or), '≥ 1.5',
               verdict(median(@vs_or), '>=', 1.5));
        # at saturation each p99 follows its server's throughput (a
        # closed loop): reported, the bar is taken at a fixed rate (2b)
        figure("p99 caresync − ceiling at saturation, median of $n rounds",
               spread('%+.2f', @dp99) . ' ms', 'reported', 'INFO');
    }
    $sat_openresty = median(@{ $rps{openresty} });

    print "\n3. Accounting over those rounds\n\n";
    printf "  Redis round trips per job (EXEC + EVALSHA)  %s\n",
           spread('%.3f', @trips);
    printf "  jobs per group (EXEC)                       %s\n",
           spread('%.1f', @groups);
    printf "  Redis's time per group (EXEC's usec)        %s µs\n",
           spread('%.0f', @group_usec);
    figure('Redis round trips per job, wall-clock rounds',
           spread('%.3f', @trips), '≤ 1', verdict(max(@trips), '<=', 1));
    for my $name (grep { $extra{$_} } @SERVERS) {
        printf "  jobs − 200s per %-9s run   %s\n", $NAME{$name},
               join(' ', @{ $extra{$name} });
    }
    printf "  (requests wrk abandoned in flight at its stop: 0 to %d)\n",
           $WRK_CONNS;
    my @wrong = grep { $_ < 0 || $_ > $WRK_CONNS } map { @$_ } values %extra;
    figure('200s vs jobs in the stream',
           @wrong ? ('a 200 without its job, or a job never asked for',
                     'equal', 'REFUSED')
                  : ('every 200 has its job', 'equal', 'PASS'));
    figure('jobs queued twice', $dups, '0', $dups ? 'MISS' : 'PASS');
}

# --- 2b. latency at a fixed rate -------------------------------------------

# The processes of these rounds, every server's alike (its nginx worker,
# Redis, the load), run SCHED_FIFO unless BENCH_RATE_SCHED=other: on this
# shared machine a process woken under the default scheduler waits for
# the slice of whatever else runs on its core, once per wake-up, and a
# caresync request is three wake-ups (nginx, Redis, nginx) where the
# ceiling's is one (docs/performance.md, "Latency at a fixed rate").
# They are idle most of the time at this rate; at saturation (2, 4) they
# run as any other process.  No CPU is pinned: the servers on one CPU and
# the load on the other halves what the servers can take, and caresync's
# nginx and Redis on one core saturate it at rates that a quiet machine's
# part 2 gives.
my $rate_sched = $ENV{BENCH_RATE_SCHED} // 'fifo';

sub realtime {
    my ($on, @pids) = @_;
    for my $pid (@pids) {
        my @how = $on ? ('-f', '-a', '-p', 10) : ('-o', '-a', '-p', 0);
        system('chrt', @how, $pid) == 0 or return 0;
    }
    return 1;
}

my $rate = $rate_fixed
           // ($sat_openresty ? 100 * int($rate_share * $sat_openresty / 100)
                              : undef);
if ($rate_rounds > 0 && !$rate) {
    print "\n2b. Latency at a fixed rate: skipped (no BENCH_RATE and no "
        . "rounds at saturation to take it from)\n";
} elsif ($rate_rounds > 0) {
    my @pids = ($redis->{pid}, map { $srv{$_}->worker_pid } @SERVERS);
    my @prefix;
    if ($rate_sched eq 'fifo') {
        if (realtime(1, @pids)) {
            @prefix = ('chrt', '-f', 10);
        } else {
            realtime(0, @pids);
            print "\n  (SCHED_FIFO refused: the rounds run under the default "
                . "scheduler)\n";
            $rate_sched = 'other';
        }
    }
    printf "\n2b. Latency at a fixed rate: %d req/s offered to each server "
           . "(%s), %d rounds\n    of %d s per server, an open loop "
           . "(build/openloop) on %d connections, latency\n    from each "
           . "request's due time, the order rotating; nginx workers,\n"
           . "    Redis and the load %s\n\n", $rate,
           $rate_fixed ? 'BENCH_RATE'
                       : sprintf('%.0f %% of the OpenResty way\'s %.0f req/s '
                                 . 'in 2', 100 * $rate_share, $sat_openresty),
           $rate_rounds, $rate_secs, $WRK_CONNS,
           $rate_sched eq 'fifo' ? 'SCHED_FIFO'
                                 : 'under the default scheduler';

    # connections, caches
    openloop($srv{$_}, $WRK_CONNS, 1, run_id(), $rate, @prefix) for @SERVERS;
    $redis->{r}->cmd('DEL', $_->stream) for grep { $_->stream } values %srv;

    my (%p50, %p99, %p999, @wake, @queued, @dp99, @dp99_or, @bad);
    printf "  %5s  %-15s  %-15s  %-15s  %8s\n", 'round',
           'ceiling p50 p99', 'OpenResty', 'caresync', 'Δp99 ms';
    for my $round (1 .. $rate_rounds) {
        my $k = ($round - 1) % @SERVERS;
        my %r;
        for my $name (@SERVERS[$k .. $#SERVERS], @SERVERS[0 .. $k - 1]) {
            my $s = $srv{$name};
            my $r = $r{$name} = openloop($s, $WRK_CONNS, $rate_secs,
                                         run_id(), $rate, @prefix);
            # every request answered, and every 200 one job: the loop
            # waits for each answer, so the counts are exact
            my $ok = $r->{status}{200} // 0;
            push @bad, "round $round $NAME{$name}: " . statuses($r->{status})
                unless all_200($r) && $ok == $r->{sent};
            if ($s->stream) {
                my $jobs = xlen($redis, $s);
                push @bad, "round $round $NAME{$name}: $ok 200s, $jobs jobs"
                    unless $jobs == $ok;
                $redis->{r}->cmd('DEL', $s->stream);
            }
            push @wake, $r->{wake_p99};
            push @queued, $r->{queued_max};
        }
        for my $name (@SERVERS) {
            push @{ $p50{$name} }, $r{$name}{p50};
            push @{ $p99{$name} }, $r{$name}{p99};
            push @{ $p999{$name} }, $r{$name}{p999};
        }
        push @dp99, $r{caresync}{p99} - $r{ceiling}{p99};
        push @dp99_or, $r{caresync}{p99} - $r{openresty}{p99};
        printf "  %5d  %s  %+8.2f\n", $round,
               join('  ', map { sprintf '%5.2f %8.2f', $r{$_}{p50},
                                        $r{$_}{p99} } @SERVERS),
               $dp99[-1];
    }
    realtime(0, @pids) if $rate_sched eq 'fifo';

    print "\n  medians of the rounds (IQR, min–max), ms:\n";
    for my $name (@SERVERS) {
        printf "    %-9s p50   %s\n              p99   %s\n"
               . "              p99.9 %s\n", $NAME{$name},
               spread('%.2f', @{ $p50{$name} }),
               spread('%.2f', @{ $p99{$name} }),
               spread('%.2f', @{ $p999{$name} });
    }
    printf "    caresync − OpenResty p99 %s\n", spread('%+.2f', @dp99_or);
    printf "  the load's own lateness (its timer's p99, every run) %s ms;\n"
           . "  due requests that found every connection busy, most in a "
           . "run: %d\n", spread('%.2f', @wake), max(@queued);

    my $n = @dp99;
    my $label = "p99 caresync − ceiling at $rate req/s"
              . ($rate_sched eq 'fifo' ? ', SCHED_FIFO' : '')
              . ", median of $n rounds";
    if (@bad) {
        print "\n  requests that failed, or 200s without their job:\n";
        print "    $_\n" for @bad;
        figure($label, 'not every request a 200 with its job', '≤ 1 ms',
               'REFUSED');
    } else {
        figure($label, spread('%+.2f', @dp99) . ' ms', '≤ 1 ms',
               verdict(median(@dp99), '<=', 1));
    }
}

# --- 4. soak ----------------------------------------------------------------

sub rss_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return 0;
}

if ($soak > 0) {
    my $s = $srv{caresync};
    my $pid = $s->worker_pid;
    my $r = wrk($s, $WRK_CONNS, 1, run_id());
    my ($first, $bad) = ($r->{requests}, !all_200($r));
    my $done = $first;
    my $rss_start = rss_kb($pid);
    $redis->{r}->cmd('DEL', $s->stream);
    while ($done < $soak) {
        $r = wrk($s, $WRK_CONNS, 10, run_id());
        $done += $r->{requests};
        $bad ||= !all_200($r);
        $redis->{r}->cmd('DEL', $s->stream);
    }
    my $rss_end = rss_kb($pid);
    my $growth = 100 * ($rss_end - $rss_start) / $rss_start;
    printf "\n4. Soak: caresync's nginx worker, RSS %d kB after the first "
           . "%d requests,\n   %d kB after %d\n", $rss_start, $first,
           $rss_end, $done;
    figure("worker RSS after $done requests vs after the first",
           $bad ? ('not all 200', 'within 5 %', 'REFUSED')
                : (sprintf('%+.1f %%', $growth), 'within 5 %',
                   verdict(abs($growth), '<=', 5)));
}

# --- done -------------------------------------------------------------------

$_->stop for values %srv;
redis_stop($redis) if $redis;

print "\nFigures against the bars\n\n";
printf "  %-52s %-7s %s\n    %s\n", $_->[0], $_->[3], $_->[2], $_->[1]
    for @verdicts;
printf "\n%s in %.0f s; callgrind dumps in %s/callgrind\n",
       $refused ? 'REFUSED figures (requests that failed)' : 'done',
       time - $started, $OUT;
exit($refused ? 1 : 0);
