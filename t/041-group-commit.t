# Group commit: the webhooks' jobs that one nginx worker has ready in one
# turn of its event loop go to Redis as one transaction (MULTI, an XADD
# per job, one EVAL, EXEC), and every request still gets its own answer.
#
# To have many requests ready in one turn, the clients first open
# keep-alive connections (one request each), then the worker is stopped
# (SIGSTOP), every client writes its next request, and the worker goes on
# (SIGCONT): its next epoll_wait returns them all at once.  Redis's own
# accounting (INFO commandstats) proves how many transactions came.
#
# A drill in the manner of the other t/05x files (plain Test::More): the
# Test::Nginx format has no way to have requests arrive together.

use strict;
use warnings;

BEGIN { $ENV{CARESYNC_REDIS_PERSIST} = 1 }

use Test::More;
use lib 't/lib';
use Caresync::Test;
use Caresync::Drill;

use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my $URI = '/webhook/user-enrollment';

# An enrollment of patient $id; the same $id is the same event (a repeat).
sub body_for {
    my ($id) = @_;
    return body_of(enrollment_with(sub { $_[0]{event}{patient}{id} = $id }));
}

sub stats {
    my $info = redis_cmd('INFO', 'commandstats');
    return { $info =~ /cmdstat_(\w+):calls=(\d+)/g };
}

# What Redis ran between two stats().
sub ran {
    my ($before) = @_;
    my $now = stats();
    return { map { $_ => ($now->{$_} // 0) - ($before->{$_} // 0) }
             qw(exec xadd eval evalsha xdel) };
}

# Redis killed (SIGKILL) where it stands: what it had not read, it never
# runs; what it acknowledged is in its append-only file.
sub redis_kill {
    my ($pid) = redis_cmd('INFO', 'server') =~ /^process_id:(\d+)/m;
    return sub {
        kill 'KILL', $pid;
        redis_stop();
    };
}

# The jobs' patient ids, oldest first.
sub stream_ids { return map { $_->{patient}{source_id} } jobs() }

# The nginx worker of master $master.
sub worker_pid {
    my ($master) = @_;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        return $pid if $ppid == $master;
    }
    return;
}

# A process's state letter (R, S, T…).
sub state {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return '';
    my ($st) = (<$fh> // '') =~ /^\d+ \(.*\) (\S)/;
    return $st // '';
}

# A keep-alive client: one connection, whole answers read by their length.
sub client {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    return { s => $s, buf => '' };
}

sub write_request {
    my ($c, $body) = @_;
    my $req = "POST $URI HTTP/1.1\r\nHost: localhost\r\n"
            . "Content-Type: application/json\r\n"
            . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    for (my $off = 0; $off < length $req; ) {
        my $n = syswrite($c->{s}, $req, length($req) - $off, $off);
        die "write: $!" unless defined $n;
        $off += $n;
    }
}

# The next answer on $c: { status, body }, status 0 when none came.
sub read_answer {
    my ($c, $seconds) = @_;
    my $sel = IO::Select->new($c->{s});
    my $deadline = time + $seconds;
    for (;;) {
        if ($c->{buf} =~ /^(HTTP\/1\.1 (\d{3})[^\r]*\r\n(.*?)\r\n\r\n)/s) {
            my ($head, $status, $fields) = ($1, $2, $3);
            my ($len) = $fields =~ /^Content-Length: (\d+)/mi;
            $len //= 0;
            if (length($c->{buf}) >= length($head) + $len) {
                my $body = substr($c->{buf}, length $head, $len);
                substr($c->{buf}, 0, length($head) + $len) = '';
                return { status => $status, body => $body };
            }
        }
        my $left = $deadline - time;
        return { status => 0, body => '' }
            if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($c->{s}, $c->{buf}, 65536, length $c->{buf});
        return { status => 0, body => '' } unless $n;
    }
}

# Bodies posted together: the worker is stopped while the clients write,
# so that it reads them in one turn.  $before->() runs while it is
# stopped.  Returns the answers, in the order of @$bodies.
sub together {
    my ($n, $clients, $bodies, %o) = @_;
    my $worker = worker_pid($n->{master}) or die "no nginx worker\n";
    # the worker done with the last answers (it reads a kept-alive
    # connection once more after answering)
    sleep 0.2;
    kill 'STOP', $worker;
    # stopped indeed ("T"), not still on its way out of epoll_wait
    my $until = time + 5;
    sleep 0.01 while state($worker) ne 'T' && time < $until;
    write_request($clients->[$_], $bodies->[$_]) for 0 .. $#$bodies;
    $o{before}->() if $o{before};
    sleep 0.2;                  # every request in the worker's sockets
    kill 'CONT', $worker;
    $o{after}->() if $o{after};
    return [ map { read_answer($clients->[$_], $o{seconds} // 10) }
             0 .. $#$bodies ];
}

# Keep-alive clients, each with one request done (a distinct patient).
sub clients {
    my ($n, $count, $tag) = @_;
    my @c = map { client($n->{port}) } 1 .. $count;
    for my $i (0 .. $#c) {
        write_request($c[$i], body_for(sprintf 'hw%s%03d', $tag, $i));
        my $a = read_answer($c[$i], 10);
        die "warm-up: $a->{status}\n" unless $a->{status} == 200;
    }
    return \@c;
}

# The enrollment's answer: it names the request's own patient.
sub answer_for {
    my ($id) = @_;
    return '{"success":true,"data":{"supportProgramId":'
         . '"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":'
         . qq{"$id","externalId":}
         . '"4aadb997-e9fd-3909-a2f0-833b821544bd"}}';
}

# How many of the answers are the answer for their own id.
sub own_answers {
    my ($answers, @ids) = @_;
    return scalar grep { $answers->[$_]{body} eq answer_for($ids[$_]) }
                  0 .. $#ids;
}

sub count_lines { my ($text, $re) = @_; return scalar(() = $text =~ /$re/g) }

sub statuses { return join ' ', map { $_->{status} } @{ $_[0] } }

# nginx with one worker and $count keep-alive clients, Redis empty.
sub start {
    my ($name, $count, $redis) = @_;
    redis_cmd('FLUSHALL');
    my $n = nginx_start("servroot-group-$name", workers => 1,
                        redis => $redis // 'timeout=10s');
    ok($n->{started}, "nginx starts (one worker, $count clients)");
    my $c = clients($n, $count, $name);
    redis_cmd('FLUSHALL');
    return ($n, $c);
}

sub stop {
    my ($n) = @_;
    ok($n->{quit}->(), 'nginx exits');
    is(scalar $n->{alerts}->(), 0, 'no alert in the error log');
}

# --- 1: many requests, one transaction; each its own answer and job ----

{
    my ($n, $c) = start(1, 20);

    my @ids = map { sprintf 'hg1%03d', $_ } 1 .. 20;
    my $before = stats();
    my $answers = together($n, $c, [ map { body_for($_) } @ids ]);
    my $ran = ran($before);

    is(statuses($answers), join(' ', ('200') x 20),
       'twenty requests together: twenty 200s');
    is(own_answers($answers, @ids), 20,
       'each with its own answer (its patient\'s id)');
    is($ran->{exec}, 1, 'Redis ran one transaction (EXEC)');
    is($ran->{eval}, 1, 'with one script call (EVAL)');
    is($ran->{xadd}, 20, 'and an XADD per job');
    is($ran->{evalsha} + $ran->{xdel}, 0, 'and nothing else per job');
    is(join(' ', stream_ids()), "@ids",
       'every job once, in the order of the requests');

    # the marks are set: each one again, in one group, is a repeat
    $before = stats();
    $answers = together($n, $c, [ map { body_for($_) } @ids ]);
    $ran = ran($before);
    is(statuses($answers), join(' ', ('200') x 20),
       'the same twenty again: 200s');
    is(own_answers($answers, @ids), 20, 'each answered as the first time');
    is($ran->{exec}, 1, 'one transaction again');
    is(join(' ', stream_ids()), "@ids", 'and no job added: all repeats');
    is(count_lines($n->{log}->(), qr/duplicate delivery, job \w+ not queued/),
       20, 'each repeat logged once');

    stop($n);
}

# --- 2: repeats inside a group, and of an earlier group ----------------

{
    my ($n, $c) = start(2, 8);

    my $before = stats();
    my $answers = together($n, $c, [ map { body_for($_) } qw(hg2a hg2b) ]);
    is(statuses($answers), '200 200',
       'a first group of two: 200s');

    # new, repeat within, new, repeat of the first group, new, new,
    # repeat within, repeat of the first group (not symmetric: an entry
    # counted from the wrong end would be another one)
    my @sent = qw(hg2c hg2c hg2d hg2a hg2e hg2f hg2d hg2b);
    $answers = together($n, $c, [ map { body_for($_) } @sent ]);
    my $ran = ran($before);

    is(statuses($answers), join(' ', ('200') x 8),
       'a group with repeats in it: every request 200');
    is(own_answers($answers, @sent), 8,
       'a repeat is answered as a first delivery is');
    is($ran->{exec}, 2, 'two groups, two transactions');
    is($ran->{xdel}, 4, 'the four repeats\' entries deleted in the same one');
    is(join(' ', stream_ids()), 'hg2a hg2b hg2c hg2d hg2e hg2f',
       'the stream: each job once, the right entries deleted');
    is(count_lines($n->{log}->(), qr/duplicate delivery, job \w+ not queued/),
       4, 'four repeats logged');

    # across groups, as across single requests
    $answers = together($n, $c, [ body_for('hg2c') ]);
    is($answers->[0]{status}, 200, 'a repeat alone later: 200');
    is(join(' ', stream_ids()), 'hg2a hg2b hg2c hg2d hg2e hg2f',
       'and no job added');

    stop($n);
}

# --- 3: a client that goes away while its group waits ------------------

{
    my ($n, $c) = start(3, 6);

    my @ids = map { "hg3$_" } 1 .. 6;

    # Redis frozen: the group is in its socket, unanswered; the third
    # client goes away meanwhile
    my $answers = together($n, $c, [ map { body_for($_) } @ids ],
        before => sub { redis_suspend() },
        after  => sub {
            sleep 0.3;
            close $c->[2]{s};
            sleep 0.3;
            redis_resume();
        });

    is(statuses([ @$answers[0, 1, 3, 4, 5] ]),
       '200 200 200 200 200', 'the others: 200');
    is(own_answers([ @$answers[0, 1, 3, 4, 5] ], @ids[0, 1, 3, 4, 5]), 5,
       'each with its own answer');
    is(join(' ', stream_ids()), "@ids",
       'every job once: the gone client\'s was sent before it went');

    stop($n);
}

# --- 4: the scripts flushed (SCRIPT FLUSH) between groups --------------

{
    my ($n, $c) = start(4, 5);

    my @first = map { "hg4a$_" } 1 .. 5;
    my @second = map { "hg4b$_" } 1 .. 5;
    my $answers = together($n, $c, [ map { body_for($_) } @first ]);
    is(statuses($answers), '200 200 200 200 200',
       'a first group: 200s');

    is(redis_cmd('SCRIPT', 'FLUSH'), 'OK', 'SCRIPT FLUSH');
    my $before = stats();
    $answers = together($n, $c, [ map { body_for($_) } @second ]);
    my $ran = ran($before);
    is(statuses($answers), '200 200 200 200 200',
       'the next group, with Redis\'s scripts flushed: 200s');
    is($ran->{exec}, 1, 'in one transaction');
    is(join(' ', stream_ids()), "@first @second", 'every job in once');

    # and the marks of that group were set: its repeats are repeats
    $answers = together($n, $c, [ map { body_for($_) } @second ]);
    is(statuses($answers), '200 200 200 200 200',
       'its repeats: 200s');
    is(join(' ', stream_ids()), "@first @second", 'and no job added');

    stop($n);
}

# --- 5: the connection lost under a group ------------------------------

{
    my ($n, $c) = start(5, 8, 'timeout=2s');

    my @first = map { "hg5a$_" } 1 .. 4;
    my $answers = together($n, $c, [ map { body_for($_) } @first ]);
    is(statuses($answers), '200 200 200 200',
       'a first group: 200s');

    # a group in the socket of a Redis that is then stopped and started
    # again (its data kept): the jobs wait for the new connection and are
    # sent again; what Redis had done, the marks tell
    my @second = map { "hg5b$_" } 1 .. 4;
    my $kill = redis_kill();
    my $log_before = length $n->{log}->();
    $answers = together($n, $c, [ map { body_for($_) } @second ],
        before => sub { redis_suspend() },
        after  => sub {
            sleep 0.3;
            $kill->();
            sleep 0.3;
            redis_start();
        });
    is(statuses($answers), '200 200 200 200',
       'a group whose connection was lost: 200s once Redis is back');
    is(join(' ', stream_ids()), "@first @second",
       'every job once, the first group\'s untouched');
    is(count_lines(substr($n->{log}->(), $log_before),
                   qr/job \w+ waits for it to come back/), 4,
       'the four jobs of the lost group waited for the connection');

    # a group whose Redis does not come back within the timeout: 503 for
    # its requests, and only for them
    my @third = map { "hg5c$_" } 1 .. 4;
    $kill = redis_kill();
    $log_before = length $n->{log}->();
    $answers = together($n, $c, [ map { body_for($_) } @third ],
        before => sub { redis_suspend() },
        after  => sub { sleep 0.3; $kill->() });
    is(statuses($answers), '503 503 503 503',
       'a group with no Redis to come back to: 503s');
    my $log = substr $n->{log}->(), $log_before;
    is(count_lines($log, qr/job \w+ waits for it to come back/), 4,
       'each of its four jobs waited for the connection');
    redis_start();
    is(join(' ', stream_ids()), "@first @second",
       'the jobs answered 200 before are all there');

    stop($n);
}

done_testing();
