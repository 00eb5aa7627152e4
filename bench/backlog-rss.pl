#!/usr/bin/env perl
# make bench-backlog: what a frozen Redis costs an nginx worker.
#
# One Redis, one nginx worker. The module connects, Redis is frozen with
# SIGSTOP (its port still accepts and takes bytes, nothing is answered),
# then BACKLOG_REQUESTS enrollments of BACKLOG_BODY bytes each (a padding
# member the rules do not read) are posted by N clients at once, each
# answered or given up after 30 s, for each N of BACKLOG_CLIENTS. The
# worker's RSS is read before (idle, after the first requests) and its
# peak (VmHWM) after; Redis is then resumed and the script checks that
# every 200 has its job (it exits 1 if one has not).
#
# Each configuration of BACKLOG_CONFIGS is run in turn, on a fresh nginx
# and an emptied Redis:
#   defaults   the module's defaults (the raw copy of a large body is
#              left out: caresync_max_raw 64k)
#   raw        caresync_max_raw 1m: every job carries its 0.8 MB copy, so
#              what waits for Redis is as large as it gets
#   plain      no caresync directive beyond the location, for a module
#              built before caresync_max_raw (CARESYNC_MODULE=…)
#
#   BACKLOG_REQUESTS (120)  BACKLOG_BODY (800000)  BACKLOG_CLIENTS ("1 8 16")
#   BACKLOG_CONFIGS ("defaults raw")  BACKLOG_HTTP (extra http lines,
#   e.g. "caresync_redis_queue bytes=8m;")  BACKLOG_FREEZE (1; 0: the same
#   load on a live Redis, for comparison)  CARESYNC_MODULE

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $requests = $ENV{BACKLOG_REQUESTS} // 120;
my $size     = $ENV{BACKLOG_BODY}     // 800_000;
my @clients  = split ' ', $ENV{BACKLOG_CLIENTS} // '1 8 16';
my @configs  = split ' ', $ENV{BACKLOG_CONFIGS} // 'defaults raw';
my $extra    = $ENV{BACKLOG_HTTP}     // '';
my $freeze   = $ENV{BACKLOG_FREEZE}   // 1;

my $root     = abs_path('.');
my $out      = "$root/bench/out/backlog";
my $module   = $ENV{CARESYNC_MODULE}
               // "$root/build/ngx_http_caresync_module.so";
my $fixtures = $ENV{CARESYNC_FIXTURES} // "$root/../shared/fixtures";
my $nginx    = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
my $secret   = 'bench-backlog-secret';

-e $module or die "no $module: run make first\n";

my %location = (
    defaults => '',
    raw      => 'caresync_max_raw 1m;',
    plain    => '',
);

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
    my $cmd = "*" . @_ . "\r\n"
            . join '', map { '$' . length($_) . "\r\n$_\r\n" } @_;
    print $s $cmd;
    my $line = <$s> // return;
    if ($line =~ /^\*(\d+)/) {
        # XRANGE: entries of [id, [field, value]]; only the values matter
        my @v;
        for (1 .. $1) {
            <$s>; <$s>; my $id = <$s>; <$s>;
            for (1 .. 2) {
                my $len = <$s>; $len =~ /^\$(\d+)/ or next;
                read($s, my $data, $1 + 2);
                push @v, substr($data, 0, $1);
            }
        }
        return \@v;
    }
    $line =~ s/^[:+]//;
    $line =~ s/\r\n$//;
    return $line;
}

for (1 .. 50) { last if defined redis('PING'); sleep 0.1 }

END { kill 'CONT', $redis_pid; kill 'TERM', $redis_pid if $redis_pid }

# --- the workload ------------------------------------------------------------

my $template = do {
    open my $fh, '<', "$fixtures/helparound/enrollment.json"
        or die "$fixtures/helparound/enrollment.json: $!\n";
    local $/;
    decode_json(<$fh>);
};

# An enrollment of patient $id, padded to $size bytes.
sub body_for {
    my ($id) = @_;
    my %doc = %$template;
    $doc{event} = { %{ $doc{event} } };
    $doc{event}{patient} = { %{ $doc{event}{patient} }, id => $id };
    my $body = encode_json(\%doc);
    $doc{pad} = 'p' x ($size - length($body) - 10);
    return encode_json(\%doc);
}

sub post {
    my ($http, $port, $body) = @_;
    return $http->post("http://127.0.0.1:$port/webhook/user-enrollment", {
        headers => { 'Content-Type' => 'application/json',
                     'X-Bench-Secret' => $secret },
        content => $body })->{status};
}

# R, S, T (stopped), … from /proc/<pid>/stat
sub redis_state {
    open my $fh, '<', "/proc/$redis_pid/stat" or return '';
    my $stat = <$fh> // '';
    return $stat =~ /\) (\S)/ ? $1 : '';
}

sub status_kb {
    my ($pid, $key) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (my $line = <$fh>) { return $1 if $line =~ /^$key:\s+(\d+)/ }
    return 0;
}

sub run_config {
    my ($name, $clients) = @_;
    my $dir = "$out/$name-$clients";
    my $port = free_port();

    redis('FLUSHALL');
    make_path("$dir/conf", "$dir/logs");
    open my $fh, '>', "$dir/conf/nginx.conf" or die $!;
    print $fh <<"EOF";
load_module $module;
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    caresync_redis 127.0.0.1:$redis_port;
    client_max_body_size 1m;
    client_body_buffer_size 1m;
    $extra
    server {
        listen 127.0.0.1:$port backlog=1024;
        location = /webhook/user-enrollment {
            caresync_webhook helparound_enrollment;
            caresync_auth_header X-Bench-Secret $secret;
            $location{$name}
        }
    }
}
EOF
    close $fh;

    system($nginx, '-p', "$dir/", '-c', 'conf/nginx.conf') == 0
        or die "$name: nginx did not start (see $dir/logs/error.log)\n";
    sleep 0.3;

    my $master = do { local (@ARGV, $/) = "$dir/logs/nginx.pid"; <> };
    chomp $master;
    my ($worker) = map { /^\s*(\d+)/ ? $1 : () }
                   grep { /worker process/ } `ps -o pid=,args= --ppid $master`;

    # warm up: the connection, the pools, one body of the size
    my $http = HTTP::Tiny->new(timeout => 30);
    my $warm = 0;
    for (1 .. 50) {
        last if ($warm = post($http, $port, body_for("hw$_"))) == 200;
        sleep 0.1;
    }
    die "$name: no 200 before the freeze ($warm)\n" unless $warm == 200;
    post($http, $port, body_for('hw-second'));
    sleep 0.2;

    my $idle = status_kb($worker, 'VmRSS');
    my $idle_hwm = status_kb($worker, 'VmHWM');

    if ($freeze) {
        kill 'STOP', $redis_pid;
        sleep 0.05 until redis_state() eq 'T';
    }
    my $t0 = time;

    my @kids;
    for my $c (1 .. $clients) {
        my $pid = fork // die;
        if ($pid == 0) {
            my $h = HTTP::Tiny->new(timeout => 30);
            open my $o, '>', "$dir/client-$c" or die $!;
            for (my $i = $c; $i <= $requests; $i += $clients) {
                my $id = sprintf 'hb%s%05d', $name, $i;
                print $o "$id ", post($h, $port, body_for($id)), "\n";
            }
            close $o;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }

    # the peak is VmHWM; sampling VmRSS as well shows when it was reached
    my $peak_seen = 0;
    while (grep { waitpid($_, WNOHANG) == 0 } @kids) {
        my $rss = status_kb($worker, 'VmRSS');
        $peak_seen = $rss if $rss > $peak_seen;
        sleep 0.05;
    }
    waitpid($_, 0) for @kids;
    my $secs = time - $t0;

    my $peak = status_kb($worker, 'VmHWM');
    my $frozen_end = status_kb($worker, 'VmRSS');
    my $still = !$freeze || redis_state() eq 'T';

    kill 'CONT', $redis_pid;
    sleep 1;

    my %answer;
    for my $c (1 .. $clients) {
        open my $in, '<', "$dir/client-$c" or die $!;
        while (my $line = <$in>) {
            my ($id, $st) = split ' ', $line;
            $answer{$id} = $st;
        }
    }
    my %status;
    $status{$_}++ for values %answer;

    my %queued;
    my $entries = redis('XRANGE', '{caresync}:jobs', '-', '+') || [];
    for (my $i = 1; $i < @$entries; $i += 2) {
        my $job = eval { decode_json($entries->[$i]) } or next;
        $queued{ $job->{patient}{source_id} } = 1;
    }
    my @lost = grep { $answer{$_} == 200 && !$queued{$_} } keys %answer;
    my $after = status_kb($worker, 'VmRSS');

    system($nginx, '-p', "$dir/", '-c', 'conf/nginx.conf', '-s', 'quit');
    sleep 0.5;

    printf "%-9s idle %6.1f MB (VmHWM %6.1f)  peak %6.1f MB  +%5.1f MB"
         . "  (sampled %6.1f, at the end of the freeze %6.1f, after %6.1f)\n",
        $name, $idle / 1024, $idle_hwm / 1024, $peak / 1024,
        ($peak - $idle) / 1024, $peak_seen / 1024, $frozen_end / 1024,
        $after / 1024;
    printf "%-9s %d requests of %d bytes by %d clients in %.1f s: %s;"
         . " %d 200s without their job\n",
        '', scalar(keys %answer), $size, $clients, $secs,
        join(' ', map { "$_:$status{$_}" } sort keys %status), scalar @lost;

    warn "$name: Redis was resumed during the run: figures not valid\n"
        unless $still;

    return { name => $name, clients => $clients, idle => $idle / 1024,
             peak => $peak / 1024, lost => scalar @lost,
             answers => join(' ', map { "$_:$status{$_}" } sort keys %status) };
}

printf "# Redis %s, %d enrollments of %d bytes, one nginx worker\n",
    $freeze ? 'frozen (SIGSTOP)' : 'alive', $requests, $size;

my @results;
for my $c (@clients) {
    for my $config (@configs) {
        push @results, run_config($config, $c);
    }
}

print "\n| config | clients | idle RSS | peak RSS | peak - idle | answers |\n"
    . "| --- | --- | --- | --- | --- | --- |\n";
printf "| %s | %d | %.1f MB | %.1f MB | +%.1f MB | %s |\n",
    @$_{qw(name clients idle peak)}, $_->{peak} - $_->{idle}, $_->{answers}
    for @results;

my $lost = 0;
$lost += $_->{lost} for @results;
print "every 200 has its job\n" unless $lost;
exit($lost ? 1 : 0);
