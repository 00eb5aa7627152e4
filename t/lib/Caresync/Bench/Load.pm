package Caresync::Bench::Load;

# The load `make bench` puts on a server, both ways with the seed's
# enrollment payload and a distinct patient id per request, so that every
# 200 must be one new job:
#
#   post($server, $conns, $n, $run)   exactly $n requests on $conns
#       keep-alive connections, one in flight on each, every answer read
#       (for callgrind: the requests counted are the requests sent);
#       the connections stay open for the next call.
#       Returns { status => { code => count }, answered => n }.
#   wrk($server, $conns, $seconds, $run)   wrk for a duration
#       (bench/enrollment.lua); returns { rps, mean, p50, p99 (ms), requests,
#       status => {…}, errors }.
#   openloop($server, $conns, $seconds, $run, $rate, @prefix)   an open
#       loop at a fixed rate (bench/openloop.c, built as build/openloop):
#       a request due every 1 / $rate s on $conns keep-alive connections,
#       its latency taken from when it was due; every answer waited for.
#       @prefix runs it under another command (chrt).  Returns { p50,
#       p99, p999, max, mean, wake_p99 (ms), sent, requests (timed),
#       queued_max, status => {…} }.
#
# $run (0–9999) makes the ids distinct from every other call's.

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter 'import';
use File::Basename qw(dirname);
use IO::Select;
use IO::Socket::INET;

our @EXPORT_OK = qw(post wrk openloop fixture);

my $ROOT = abs_path(dirname(__FILE__) . '/../../../..');

# The seed's fixtures are in ../shared/fixtures, or CARESYNC_FIXTURES, as
# for the tests.
sub fixture {
    my $dir = $ENV{CARESYNC_FIXTURES} // "$ROOT/../shared/fixtures";
    my $f = "$dir/helparound/enrollment.json";
    -f $f or die "no $f: set CARESYNC_FIXTURES to the seed's fixtures\n";
    return abs_path($f);
}

# The payload around the seed's patient id, split as enrollment.lua does.
my ($HEAD, $TAIL);
sub _split {
    return if defined $HEAD;
    open my $fh, '<:raw', fixture() or die fixture() . ": $!\n";
    my $body = do { local $/; <$fh> };
    ($HEAD, $TAIL) = $body =~ /^(.*?"id": ")ha61236024160af(".*)$/s
        or die "the patient id is not in " . fixture() . "\n";
}

# --- exactly n requests --------------------------------------------------

# 15 characters like the seed's id: run (4), "00" (wrk's threads count
# from 01), sequence (8).
sub _request {
    my ($port, $run, $seq) = @_;
    my $body = $HEAD . sprintf('h%04d00%08d', $run, $seq) . $TAIL;
    return "POST /webhook/user-enrollment HTTP/1.1\r\n"
         . "Host: 127.0.0.1:$port\r\n"
         . "Content-Type: application/json\r\n"
         . "Content-Length: " . length($body) . "\r\n\r\n" . $body;
}

# One complete answer at the head of $c->{buf}: its status, else undef.
sub _answer {
    my ($c) = @_;
    my $end = index($c->{buf}, "\r\n\r\n");
    return if $end < 0;
    my $head = substr($c->{buf}, 0, $end);
    $head =~ m{^HTTP/1\.\d (\d{3})} or die "bench: not an HTTP answer\n";
    my $status = $1;
    my $at = $end + 4;
    if ($head =~ /^Content-Length:\s*(\d+)/mi) {
        return if length($c->{buf}) < $at + $1;
        $at += $1;
    } elsif ($head =~ /^Transfer-Encoding:\s*chunked/mi) {
        while (1) {
            my $eol = index($c->{buf}, "\r\n", $at);
            return if $eol < 0;
            my $size = hex substr($c->{buf}, $at, $eol - $at);
            return if length($c->{buf}) < $eol + 2 + $size + 2;
            $at = $eol + 2 + $size + 2;
            last if $size == 0;
        }
    }
    $c->{close} = $head =~ /^Connection:\s*close/mi;
    substr($c->{buf}, 0, $at, '');
    return $status;
}

my %CONNS;      # "port conns" => [ connections ], kept open between calls

sub _connect {
    my ($port) = @_;
    my $s = IO::Socket::INET->new("127.0.0.1:$port")
        or die "bench: cannot connect to $port: $!\n";
    $s->autoflush(1);
    return { s => $s, buf => '' };
}

sub post {
    my ($server, $conns, $n, $run) = @_;
    _split();
    my $port = $server->{port};
    my $pool = $CONNS{"$port $conns"}
               //= [ map { _connect($port) } 1 .. $conns ];
    my ($sent, $answered, %status) = (0, 0);
    my $sel = IO::Select->new;
    my %of;

    my $watch = sub {
        my ($c) = @_;
        $sel->add($c->{s});
        $of{ fileno $c->{s} } = $c;
    };
    my $send = sub {
        my ($c) = @_;
        my $req = _request($port, $run, ++$sent);
        while (length $req) {
            my $w = syswrite($c->{s}, $req);
            die "bench: write: $!\n" unless defined $w;
            substr($req, 0, $w, '');
        }
    };
    for my $c (@$pool) {
        last if $sent >= $n;
        $send->($c);
        $watch->($c);
    }
    while ($answered < $sent) {
        # generous: this runs against servers under valgrind
        my @ready = $sel->can_read(120)
            or die "bench: no answer in 120 s ($answered of $sent)\n";
        for my $fh (@ready) {
            my $c = delete $of{ fileno $fh };
            $sel->remove($fh);
            my $r = sysread($fh, $c->{buf}, 65536, length $c->{buf});
            die "bench: read: $!\n" unless defined $r;
            if ($r == 0) {
                # closed with a request in flight: no answer; a new
                # connection takes its place
                $status{599}++;
                $answered++;
                my $new = _connect($port);
                @$pool = map { $_ == $c ? $new : $_ } @$pool;
                if ($sent < $n) {
                    $send->($new);
                    $watch->($new);
                }
                next;
            }
            my $st = _answer($c);
            if (!defined $st) {
                $watch->($c);           # the rest of the answer is to come
                next;
            }
            length $c->{buf} == 0
                or die "bench: an answer more than the requests sent\n";
            $status{$st}++;
            $answered++;
            die "bench: the server closed a keep-alive connection\n"
                if $c->{close};
            if ($sent < $n) {
                $send->($c);
                $watch->($c);
            }
        }
    }
    return { status => \%status, answered => $answered };
}

# --- wrk, for a duration ------------------------------------------------------

sub wrk {
    my ($server, $conns, $secs, $run) = @_;
    my $cmd = "CARESYNC_RUN=$run wrk -t2 -c$conns -d${secs}s --latency"
            . " -s $ROOT/bench/enrollment.lua $server->{url} -- " . fixture();
    my %r = (status => {}, errors => '');
    for (`$cmd 2>&1`) {
        $r{rps} = $1 if /^Requests\/sec:\s+([\d.]+)/;
        $r{status}{$1} = $2 if /^status (\d+) (\d+)/;
        $r{mean} = $1 / 1000 if /^latency_mean_us (\d+)/;
        $r{p50} = $1 / 1000 if /^latency_p50_us (\d+)/;
        $r{p99} = $1 / 1000 if /^latency_p99_us (\d+)/;
        $r{requests} = $1 if /^requests (\d+)/;
        $r{errors} = $1 if /Socket errors: (.*)/;
    }
    die "$server->{name}: wrk gave no figures\n" unless $r{rps};
    return \%r;
}

# --- an open loop at a fixed rate --------------------------------------------

sub openloop {
    my ($server, $conns, $secs, $run, $rate, @prefix) = @_;
    my $bin = $ENV{BENCH_OPENLOOP} // "$ROOT/build/openloop";
    -x $bin or die "no $bin: make bench builds it\n";
    open my $out, '-|', @prefix, $bin, '-p', $server->{port}, '-r', $rate,
                        '-d', $secs, '-c', $conns, '-i', $run,
                        '-f', fixture()
        or die "openloop: $!\n";
    my %r = (status => {});
    # not into $_: a caller's loop may have it aliased
    while (my $line = <$out>) {
        $r{status}{$1} += $2 if $line =~ /^status (\d+) (\d+)/;
        $r{$1} = $2 if $line =~ /^(sent|requests|queued_max) (\d+)/;
        $r{$1} = $2 / 1000 if $line =~ /^latency_(\w+)_us ([\d.]+)/;
        $r{wake_p99} = $1 / 1000 if $line =~ /^wake_p99_us ([\d.]+)/;
    }
    close $out or die "$server->{name}: openloop failed\n";
    defined $r{p99} or die "$server->{name}: openloop gave no figures\n";
    return \%r;
}

1;
