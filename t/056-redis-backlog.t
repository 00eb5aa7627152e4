# Drill: Redis frozen (SIGSTOP) while requests keep coming. Its port still
# accepts connections and takes bytes, so nothing tells nginx it is gone:
# only the caps (caresync_redis_queue) and the overdue reply bound what
# waits for it in a worker.
#
#   - past the cap, a request is answered 503 with Retry-After at once,
#     and nothing of it reaches Redis;
#   - once the oldest reply is overdue by the timeout, the connection is
#     dropped (logged, counted) and what it held is freed: the queue
#     takes commands again although Redis is still frozen;
#   - after Redis resumes, 200s come back, and every 200 has its job.
#
# A 503 after a timeout may still have its job once Redis resumes (what
# it was sent before the drop is in its socket); that is the 503 of
# spec/inbound.md §5, "not confirmed", and is not checked here.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Caresync::Test;
use Caresync::Drill;

use Time::HiRes qw(sleep time);

my $METRICS = 'location = /metrics { caresync_metrics; }';

# An enrollment of patient $id (a distinct event), padded with $pad bytes.
sub body_for {
    my ($id, $pad) = @_;
    return body_of(enrollment_with(sub {
        $_[0]{event}{patient}{id} = $id;
        $_[0]{pad} = 'p' x $pad if $pad;
    }));
}

# A whole request/answer, for the requests made one at a time.
sub request {
    my ($n, $method, $uri, $body) = @_;
    my %p = (one => send_request($n->{port}, $method, $uri, $body));
    return read_answers(\%p, 1, 30)->{one} // { status => 0, body => '' };
}

# Waits (at most $seconds) until $cond->() holds; returns whether it did.
sub eventually {
    my ($seconds, $cond) = @_;
    my $deadline = time + $seconds;
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.1;
    }
    return $cond->();
}

sub metric {
    my ($n, $re) = @_;
    my $m = request($n, 'GET', '/metrics')->{body};
    return $m =~ /^$re (\d+)$/m ? $1 : 0;
}

sub warm_up {
    my ($n, $id) = @_;
    return eventually(10, sub {
        request($n, 'POST', '/webhook/user-enrollment',
                body_for($id))->{status} == 200 });
}

sub count_lines { my ($text, $re) = @_; return scalar(() = $text =~ /$re/g) }

my %queued;
sub refresh_queued { my ($q) = queued(); %queued = %$q }

# --- 1: the cap on commands --------------------------------------------

{
    my $n = nginx_start('servroot-backlog-1', workers => 1,
                        redis => 'timeout=60s',
                        http => 'caresync_redis_queue commands=4;',
                        server => $METRICS);
    ok($n->{started}, 'nginx starts (commands=4)');
    ok(warm_up($n, 'hq000'), 'a first request is queued');

    redis_suspend();

    my %pending = map {
        ("hq$_" => send_request($n->{port}, 'POST',
                                '/webhook/user-enrollment', body_for("hq$_")))
    } 1 .. 6;

    my $early = read_answers(\%pending, 2, 20);
    is(scalar keys %$early, 2, 'two of six answered while Redis is frozen');

    for my $id (sort keys %$early) {
        my $a = $early->{$id};
        is($a->{status}, 503, "$id: 503");
        like($a->{head}, qr/^Retry-After: \d+\r?$/mi, "$id: Retry-After");
        is($a->{body}, '{"errorMessage":"temporarily unavailable"}',
           "$id: the unavailable answer");
    }

    my $none = read_answers({%pending}, 1, 0.5);
    is(scalar keys %$none, 0, 'the four admitted still wait for Redis');
    is(count_lines($n->{log}->(), qr/redis queue full: 4 commands/), 2,
       'each refusal is logged with the queue it met');

    redis_resume();

    my $late = read_answers(\%pending, 4, 30);
    is(join(' ', map { $late->{$_}{status} } sort keys %$late),
       '200 200 200 200', 'the four admitted: 200 once Redis is back');

    refresh_queued();
    my @lost = grep { !$queued{$_} } keys %$late;
    is("@lost", '', 'every 200 has its job in the stream');
    my @ghost = grep { $queued{$_} } keys %$early;
    is("@ghost", '', 'a refused request left nothing in Redis');

    is(request($n, 'POST', '/webhook/user-enrollment',
               body_for('hq007'))->{status}, 200, 'and the next one: 200');
    is(metric($n, 'caresync_rejects_total\{endpoint="helparound_enrollment",'
                  . 'reason="redis_queue_full"\}'), 2,
       'refusals counted as redis_queue_full');

    ok($n->{quit}->(), 'nginx exits');
    is(scalar $n->{alerts}->(), 0, 'no alert in the error log');
}

# --- 2: the cap on bytes -----------------------------------------------

{
    # a 220 kB body: the body, its job (the raw copy sealed: base64, a
    # third larger) and hiredis's copy of the job come to about 810 kB,
    # so one fits in 1m, two do not
    my $n = nginx_start('servroot-backlog-2', workers => 1,
                        redis => 'timeout=60s',
                        http => 'caresync_redis_queue bytes=1m; '
                                . 'client_max_body_size 1m; '
                                . 'client_body_buffer_size 1m;',
                        location => 'caresync_max_raw 1m;');
    ok($n->{started}, 'nginx starts (bytes=1m)');
    ok(warm_up($n, 'hb000'), 'a first request is queued');

    redis_suspend();

    my %pending = map {
        ("hb$_" => send_request($n->{port}, 'POST', '/webhook/user-enrollment',
                                body_for("hb$_", 220_000)))
    } 1 .. 3;

    my $early = read_answers(\%pending, 2, 20);
    is(join(' ', map { $early->{$_}{status} } sort keys %$early), '503 503',
       'two of three big ones answered 503 while Redis is frozen');
    like($n->{log}->(), qr/redis queue full: 1 commands, \d{6} bytes waiting, this one \d{6}/,
         'the refusal says what is held');

    redis_resume();

    my $late = read_answers(\%pending, 1, 30);
    is(join(' ', map { $late->{$_}{status} } keys %$late), '200',
       'the one admitted: 200 once Redis is back');

    refresh_queued();
    my @lost = grep { !$queued{$_} } keys %$late;
    is("@lost", '', 'its job is in the stream');
    my @ghost = grep { $queued{$_} } keys %$early;
    is("@ghost", '', 'the refused left nothing in Redis');

    ok($n->{quit}->(), 'nginx exits');
}

# --- 3: the overdue reply ----------------------------------------------

{
    my $n = nginx_start('servroot-backlog-3', workers => 1,
                        redis => 'timeout=500ms',
                        http => 'caresync_redis_queue commands=1;',
                        server => $METRICS);
    ok($n->{started}, 'nginx starts (commands=1, timeout=500ms)');
    ok(warm_up($n, 'ho000'), 'a first request is queued');

    redis_suspend();

    # one at a time, each once the connection has been made again (the
    # frozen Redis's kernel still completes it)
    my (@status, @reconnected);
    for my $i (1 .. 3) {
        my $before = metric($n, 'caresync_redis_reconnects_total');
        push @status, request($n, 'POST', '/webhook/user-enrollment',
                              body_for("ho$i"))->{status};
        push @reconnected, eventually(10, sub {
            metric($n, 'caresync_redis_reconnects_total') > $before }) ? 1 : 0;
    }
    is("@status", '503 503 503', 'each request: 503 while Redis is frozen');
    is("@reconnected", '1 1 1', 'after each, a new connection was made');

    my $log = $n->{log}->();
    is(count_lines($log, qr/caresync: no redis reply for \d+ ms, 1 commands and \d+ bytes waiting: dropping the connection/), 3,
       'each overdue reply dropped the connection');
    is(count_lines($log, qr/redis queue full/), 0,
       'what the dropped connection held was freed: none met a full queue');
    is(count_lines($log, qr/redis timed out/), 3,
       'each was admitted and timed out');
    cmp_ok(metric($n, 'caresync_redis_errors_total'), '>=', 6,
           'the drops and the timeouts are counted as Redis errors');

    redis_resume();

    ok(eventually(10, sub {
           request($n, 'POST', '/webhook/user-enrollment',
                   body_for('ho004'))->{status} == 200 }),
       '200 again once Redis is back, without a reload');
    refresh_queued();
    ok($queued{ho004}, 'and its job is in the stream');

    ok($n->{quit}->(), 'nginx exits');
    is(scalar $n->{alerts}->(), 0, 'no alert in the error log');
}

# --- 4: the directives' syntax -----------------------------------------

{
    my ($ok, $out) = nginx_check('servroot-backlog-4',
        http => 'caresync_redis_queue commands=2 bytes=64k;');
    ok($ok, 'caresync_redis_queue commands=2 bytes=64k is accepted')
        or diag($out);

    for my $bad ('commands=0', 'bytes=0', 'commands=x', 'bytes=1q',
                 'queue=3')
    {
        ($ok, $out) = nginx_check('servroot-backlog-4',
                                  http => "caresync_redis_queue $bad;");
        ok(!$ok, "caresync_redis_queue $bad is refused");
        like($out, qr/invalid parameter "\Q$bad\E"/, '... naming it');
    }

    ($ok, $out) = nginx_check('servroot-backlog-4',
        http => 'caresync_redis_queue commands=2; '
                . 'caresync_redis_queue bytes=1m;');
    ok(!$ok, 'caresync_redis_queue twice is refused');

    ($ok, $out) = nginx_check('servroot-backlog-4',
                              location => 'caresync_max_raw 0;');
    ok(!$ok, 'caresync_max_raw 0 is refused');
    like($out, qr/"caresync_max_raw" must be more than 0/, '... saying why');

    ($ok, $out) = nginx_check('servroot-backlog-4',
                              location => 'caresync_max_values 0;');
    ok(!$ok, 'caresync_max_values 0 is refused');
}

done_testing();
