#!/usr/bin/perl
# make bench-worker: jobs/s and CPU per job of caresync-worker against fake
# APIs that answer after 50 ms (spec/bars.md, "Worker").
#
# Two job shapes, both helparound.user_action found by contact id, one
# patient per job:
#   skip    the contact already has the time: 1 request (GET) per job;
#           ceiling C / 0.05 s, the bar is 80 % of it.
#   update  the time differs: GET then PATCH, 2 sequential requests per
#           job; ceiling C / 0.10 s (reported against the same 80 %).
# CPU per job is the worker's own (utime + stime from /proc), so the fakes,
# Redis and this script are excluded.  The fake is Python; it runs as
# several processes on one SO_REUSEPORT port, and its own CPU is printed
# so that one can tell when it, not the worker, is the limit.
#
# Env: BENCH_JOBS (default 6000), BENCH_C (64), BENCH_FAKE_PROCS (4),
# BENCH_LATENCY_MS (50), BENCH_SHAPES ("skip update"; one of them for a
# profile: CARESYNC_WORKER may name a wrapper that runs valgrind),
# BENCH_ROUNDS (1): rounds of every shape, the figures are their medians;
# BENCH_BASELINE: another worker binary (an older build) run in the same
# rounds, alternating which goes first, for the ratio of the two round by
# round (on a shared machine only such ratios compare builds);
# BENCH_REPLICAS (0; N: a replica of the bench's Redis is started and the
# worker WAITs for N after each job's end, redis.replicas: its cost).
#
# At the end: each figure with its bar and PASS or FAIL (spec/bars.md,
# "Worker": jobs/s >= 80 % of C / 0.05 s, CPU per job <= 200 us; the
# update shape's ceiling is half the skip shape's, its jobs/s is only
# reported).  It exits 1 when a run did not finish every job (REFUSED).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Caresync::Worker;
use Caresync::RedisTopology qw(start_redis_node rcli);
use JSON::PP;
use POSIX qw(sysconf _SC_CLK_TCK);
use Time::HiRes qw(time sleep);

my $N       = $ENV{BENCH_JOBS} // 6000;
my $C       = $ENV{BENCH_C} // 64;
my $PROCS   = $ENV{BENCH_FAKE_PROCS} // 4;
my $LAT     = $ENV{BENCH_LATENCY_MS} // 50;
my $TCK     = sysconf(_SC_CLK_TCK);
my $REPL    = $ENV{BENCH_REPLICAS} // 0;

my $env = start_env(latency_ms => $LAT, procs => $PROCS, bench => 1);
if ($REPL) {
    my $r = start_redis_node(dir => $env->{dir}, args => [
        '--replicaof', '127.0.0.1', $env->{redis_port}]);
    wait_for(sub { rcli($r, 'INFO', 'replication')
                   =~ /master_link_status:up/ }, 15) or die 'no replica';
}

# utime + stime in seconds; in list context (total, user, system)
sub cpu_of {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my @f = split ' ', (<$fh> =~ s/^.*\) //r);
    my @t = (($f[11] + $f[12]) / $TCK, $f[11] / $TCK, $f[12] / $TCK);
    return wantarray ? @t : $t[0];
}

sub fake_pids {
    my @p;
    for my $d (glob '/proc/[0-9]*') {
        open my $fh, '<', "$d/cmdline" or next;
        my $c = <$fh> // '';
        push @p, $d =~ s{/proc/}{}r if $c =~ /fake_apis\.py/
                                       && $c =~ /\Q$env->{dir}\E/;
    }
    return @p;
}

sub seed {
    my ($n, $shape) = @_;
    my $r = redis();
    my $json = JSON::PP->new->canonical;
    # pipelined XADD, 500 at a time
    for (my $i = 0; $i < $n; $i += 500) {
        my $k = $n - $i < 500 ? $n - $i : 500;
        my $buf = '';
        for my $j (1 .. $k) {
            # one patient and contact each: jobs of one patient would
            # run one at a time (docs/worker.md)
            my $job = user_action_job(
                id => sprintf('BENCH%s%07d', $shape, $i + $j),
                source_id => sprintf('ha-bench-%07d', $i + $j),
                external_id => sprintf('003B%014d', $i + $j),
                at => $shape eq 'skip' ? '2026-01-01T00:00:00.000Z'
                                       : '2026-11-21T10:00:00.000Z');
            my @a = ('XADD', '{caresync}:jobs', '*', 'job',
                     $json->encode($job));
            $buf .= '*' . @a . "\r\n" . join('', map {
                '$' . length($_) . "\r\n$_\r\n" } @a);
        }
        $r->{s}->print($buf);
        $r->read_reply for 1 .. $k;
    }
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

# One run of a shape with the worker named by $ENV{CARESYNC_WORKER};
# returns its figures.
sub run_shape {
    my ($shape, $requests_per_job, $who) = @_;

    redis()->cmd('FLUSHALL');
    seed($N, $shape);

    my $conf = write_config('worker.concurrency' => $C,
                            # absent at 0: an older worker compares too
                            $REPL ? ('redis.replicas' => $REPL) : (),
                            'worker.log_level' => 'error',
                            'salesforce.max_concurrency' => $C * 2,
                            'http.timeout_ms' => 10000);
    my @fp = fake_pids();
    my $fcpu0 = 0; $fcpu0 += cpu_of($_) for @fp;

    my $t0 = time;
    my ($pid) = start_worker($conf, "bench-$shape");
    my $done = wait_for(sub {
        redis()->cmd('XLEN', '{caresync}:jobs') == 0
        && redis()->cmd('XPENDING', '{caresync}:jobs', 'workers')->[0] == 0
    }, 300);
    my $wall = time - $t0;
    my ($cpu, $ucpu, $scpu) = cpu_of($pid);
    my $fcpu = -$fcpu0; $fcpu += cpu_of($_) for @fp;
    stop_worker($pid, 'TERM');
    my ($line) = grep { /stopped started=/ }
                 do { open my $fh, '<', "$env->{dir}/bench-$shape.log"; <$fh> };

    my $st = redis()->cmd('HGETALL', sprintf('{caresync}:job:BENCH%s%07d',
                                             $shape, $N));
    my %st = @{ $st // [] };
    my $dead = redis()->cmd('XLEN', '{caresync}:dead');

    my $jps = $N / $wall;
    my $ceiling = $C / ($requests_per_job * $LAT / 1000);
    printf "%-7s %s jobs=%d C=%d latency=%dms requests/job=%d replicas=%d\n",
           $shape, $who, $N, $C, $LAT, $requests_per_job, $REPL;
    printf "        %s, last status=%s, dead=%d\n",
           $done ? 'all finished' : 'TIMED OUT', $st{status} // '-', $dead;
    printf "        wall=%.2fs  jobs/s=%.0f  (ceiling C/(%d x %.2fs) = %.0f,"
           . " %.0f%% of it)\n", $wall, $jps, $requests_per_job, $LAT / 1000,
           $ceiling, 100 * $jps / $ceiling;
    printf "        worker CPU=%.2fs  per job=%.0f us  user %.0f us"
           . " + system %.0f us\n",
           $cpu, 1e6 * $cpu / $N, 1e6 * $ucpu / $N, 1e6 * $scpu / $N;
    printf "        fake CPU=%.2fs over %d processes (%.0f%% of one core)\n",
           $fcpu, scalar @fp, 100 * $fcpu / $wall;
    printf "        worker: %s\n", ($line // '') =~ s/^.*stopped //r =~ s/\n//r;

    return { ok => $done && $dead == 0 && ($st{status} // '') ne '',
             jps => $jps, cpu_us => 1e6 * $cpu / $N };
}

my $ROUNDS   = $ENV{BENCH_ROUNDS} // 1;
my $BASELINE = $ENV{BENCH_BASELINE};
my $WORKER   = Caresync::Worker::worker_bin();
my %requests = (skip => 1, update => 2);
my @shapes   = split ' ', $ENV{BENCH_SHAPES} // 'skip update';
my @who      = ([worker => $WORKER], $BASELINE ? ([baseline => $BASELINE])
                                               : ());
my %fig;        # {shape}{who}{jps|cpu_us} = [per round]

for my $shape (@shapes) {
    die "BENCH_SHAPES: $shape is not one of skip, update\n"
        unless $requests{$shape};
}

printf "caresync-worker benchmark (%s%s), %d round(s)\n", $WORKER,
       $BASELINE ? " against the baseline $BASELINE" : '', $ROUNDS;

my $refused = 0;
for my $round (1 .. $ROUNDS) {
    for my $shape (@shapes) {
        # which build goes first alternates from one round to the next
        my @order = $round % 2 ? @who : reverse @who;
        for my $w (@order) {
            local $ENV{CARESYNC_WORKER} = $w->[1];
            my $r = run_shape($shape, $requests{$shape}, $w->[0]);
            $refused++ unless $r->{ok};
            push @{ $fig{$shape}{$w->[0]}{$_} }, $r->{$_} for qw(jps cpu_us);
        }
    }
}

my $bar_jps = 0.8 * $C / ($LAT / 1000);
print "\nfigures (median of $ROUNDS round(s)); bars of spec/bars.md, Worker\n";
for my $shape (@shapes) {
    my $f = $fig{$shape}{worker};
    my $jps = median(@{ $f->{jps} });
    my $cpu = median(@{ $f->{cpu_us} });
    my $v_cpu = $cpu <= 200 ? 'PASS' : 'FAIL';
    printf "  %-7s CPU per job       %6.0f us     bar <= 200 us      %s\n",
           $shape, $cpu, $v_cpu;
    if ($shape eq 'skip') {
        my $v = $jps >= $bar_jps ? 'PASS' : 'FAIL';
        printf "  %-7s jobs/s            %6.0f        bar >= %.0f      %s\n",
               $shape, $jps, $bar_jps, $v;
    } else {
        printf "  %-7s jobs/s            %6.0f        (ceiling %.0f: reported)\n",
               $shape, $jps, $C / ($requests{$shape} * $LAT / 1000);
    }
    next unless $BASELINE;
    my $b = $fig{$shape}{baseline};
    my @r = map { $f->{cpu_us}[$_] / $b->{cpu_us}[$_] } 0 .. $ROUNDS - 1;
    printf "  %-7s CPU per job, worker / baseline, round by round: median"
           . " %.2f (%s); baseline median %.0f us\n", $shape, median(@r),
           join(' ', map { sprintf '%.2f', $_ } @r),
           median(@{ $b->{cpu_us} });
}

if ($refused) {
    print "REFUSED: $refused run(s) did not finish every job\n";
    exit 1;
}

# like make bench: a figure over its bar is reported, a refused run fails
exit 0;
