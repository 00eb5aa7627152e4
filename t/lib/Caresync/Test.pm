package Caresync::Test;

# Shared helper of caresync's Test::Nginx suites. Works under the real CPAN
# Test::Nginx::Socket and under our fallback (t/fallback) alike; load it
# right after Test::Nginx::Socket:
#
#     use Test::Nginx::Socket 'no_plan';
#     use lib 't/lib';
#     use Caresync::Test;
#
# Loading it starts a throwaway redis-server on a free port (a child of the
# test process) and sets $ENV{TEST_NGINX_REDIS_PORT}, so that config
# sections can say `caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;`.
# Redis is stopped when the test file ends.
#
# Before every block Redis is made to run and is emptied (FLUSHALL). Custom
# sections (the real Test::Nginx ignores sections it does not know):
#
#   --- redis_down            Redis is stopped for the block.
#   --- redis_start_after: K  after the response to request K (0-based),
#                             start Redis and wait (at most 5 s) until the
#                             module has connected to it again.
#   --- redis_pause: MS       CLIENT PAUSE MS ALL right before the block's
#                             nginx is started: Redis is alive but silent.
#                             Between two requests of the block, waits for
#                             the pause to be over.
#   --- jobs: N               after the last request: {prefix}:jobs holds N
#                             entries, and every key in Redis is under the
#                             prefix (one test each).
#   --- jobs_prefix: {acme}   the prefix that --- jobs and --- job_fields
#                             look under (default {caresync}).
#   --- job_fields            lines `dotted.path = value` checked against
#                             the last job's envelope (one test per line):
#                               patient.phones.0.number = +12027953213
#                               raw = ABSENT        the path does not exist
#                               raw = PRESENT       the path exists
#                               received_at =~ ^\d{4}-   a Perl regex
#                             JSON null reads as "null", booleans as
#                             "true"/"false", objects and arrays as
#                             canonical JSON.
#
# The checks run from an add_response_body_check hook, so they do not run
# for blocks with --- ignore_response (they are refused there).

use strict;
use warnings;

use Config ();
use Cwd ();
use Errno qw(EINTR);
use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec ();
use File::Temp qw(tempdir);
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More ();

our @EXPORT = qw(
    redis_cmd redis_start redis_stop redis_running redis_port
    fixture fixture_json json_encode json_decode
    jobs job_count
    enrollment_with user_action_with post_body nested_json chunked_body
    caresync_defaults
);

# Helpers also callable, unqualified, from `--- request eval` sections:
# Test::Base evaluates those in the Test::Base::Filter package.
my @FILTER_HELPERS = qw(
    fixture fixture_json json_encode json_decode
    enrollment_with user_action_with post_body nested_json chunked_body
);

my $ROOT = Cwd::abs_path(dirname(__FILE__) . '/../../..');   # the repo
my $FIXTURES = $ENV{CARESYNC_FIXTURES}
    // File::Spec->catdir($ROOT, '..', 'shared', 'fixtures');
my $REDIS_SERVER = $ENV{CARESYNC_REDIS_SERVER} || 'redis-server';
my $DEFAULT_PREFIX = '{caresync}';
my $REPLY_TIMEOUT = 10;     # seconds; a paused Redis answers late

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

my ($redis_port, $redis_pid, $redis_dir);
my $parent_pid = $$;
my %block_state;

# ---------------------------------------------------------------------------
# Fixtures and JSON
# ---------------------------------------------------------------------------

# The bytes of ../shared/fixtures/<relpath> (relative to the repo root).
sub fixture {
    my ($rel) = @_;
    my $path = File::Spec->catfile($FIXTURES, $rel);
    open my $in, '<:raw', $path or die "fixture $path: $!\n";
    local $/;
    my $data = <$in>;
    close $in;
    return $data;
}

sub fixture_json { return json_decode(fixture($_[0])) }
sub json_encode  { return $JSON->encode($_[0]) }    # compact, canonical, UTF-8
sub json_decode  { return $JSON->decode($_[0]) }

# "POST <uri>\n<body>": the form --- request takes. Test::Nginx adds the
# Content-Length (and trims the body's outer white space, which valid
# JSON bodies do not need).
sub post_body {
    my ($uri, $body) = @_;
    return "POST $uri\n$body";
}

# The enrollment fixture, edited by $edit (which gets the decoded document
# and changes it in place), as a request to /webhook/user-enrollment.
sub enrollment_with {
    my ($edit) = @_;
    my $doc = fixture_json('helparound/enrollment.json');
    $edit->($doc) if $edit;
    return post_body('/webhook/user-enrollment', json_encode($doc));
}

# The same for the user-action fixtures (default: user-action.json).
sub user_action_with {
    my ($edit, $fixture) = @_;
    my $doc = fixture_json($fixture // 'helparound/user-action.json');
    $edit->($doc) if $edit;
    return post_body('/webhook/user-action', json_encode($doc));
}

# $body as a chunked request body: one chunk, then the last chunk. Send it
# with "Transfer-Encoding: chunked" in --- more_headers (Test::Nginx then
# sends the body as is, without a Content-Length).
sub chunked_body {
    my ($body) = @_;
    return sprintf "%x\r\n%s\r\n0\r\n\r\n", length $body, $body;
}

# JSON text whose deepest point is $depth levels of containers:
# nested_json(2) is {"a":{"a":1}}; the innermost value is $leaf (default 1).
sub nested_json {
    my ($depth, $leaf) = @_;
    $leaf //= '1';
    return ('{"a":' x $depth) . $leaf . ('}' x $depth);
}

# ---------------------------------------------------------------------------
# A tiny RESP client: one connection per command
# ---------------------------------------------------------------------------

sub redis_port { $redis_port }

# Returns the reply: a string (status or bulk), a number, undef (nil), an
# array ref (arrays), or { error => "ERR ..." } for an error reply. Dies
# when Redis cannot be reached or does not answer within 10 s.
sub redis_cmd {
    my @args = @_;
    my $sock = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $redis_port,
        Proto => 'tcp', Timeout => 2,
    ) or die "redis: cannot connect to 127.0.0.1:$redis_port: $!\n";

    my $req = '*' . scalar(@args) . "\r\n";
    for my $a (@args) {
        my $b = "$a";
        utf8::encode($b) if utf8::is_utf8($b);
        $req .= '$' . length($b) . "\r\n$b\r\n";
    }
    my $off = 0;
    while ($off < length $req) {
        my $n = syswrite $sock, $req, length($req) - $off, $off;
        if (!defined $n) {
            next if $! == EINTR;
            die "redis: write failed: $!\n";
        }
        $off += $n;
    }

    my $reader = { sock => $sock, buf => '', sel => IO::Select->new($sock),
                   deadline => time + $REPLY_TIMEOUT };
    my $reply = _read_reply($reader);
    close $sock;
    return $reply;
}

sub _fill {
    my ($r) = @_;
    my $left = $r->{deadline} - time;
    die "redis: no reply within ${REPLY_TIMEOUT}s\n"
        if $left <= 0 || !$r->{sel}->can_read($left);
    my $n = sysread $r->{sock}, my $chunk, 65536;
    die "redis: connection closed\n" if defined $n && $n == 0;
    die "redis: read failed: $!\n" if !defined $n && $! != EINTR;
    $r->{buf} .= $chunk if $n;
}

sub _line {
    my ($r) = @_;
    while ((my $i = index $r->{buf}, "\r\n") < 0) { _fill($r) }
    my $i = index $r->{buf}, "\r\n";
    my $line = substr $r->{buf}, 0, $i;
    substr($r->{buf}, 0, $i + 2) = '';
    return $line;
}

sub _read_reply {
    my ($r) = @_;
    my $line = _line($r);
    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest                  if $type eq '+';
    return { error => $rest }     if $type eq '-';
    return 0 + $rest              if $type eq ':';
    if ($type eq '$') {
        return undef if $rest < 0;
        _fill($r) while length($r->{buf}) < $rest + 2;
        my $data = substr $r->{buf}, 0, $rest;
        substr($r->{buf}, 0, $rest + 2) = '';
        return $data;
    }
    if ($type eq '*') {
        return undef if $rest < 0;
        return [ map { _read_reply($r) } 1 .. $rest ];
    }
    die "redis: unexpected reply line \"$line\"\n";
}

# ---------------------------------------------------------------------------
# The redis-server child
# ---------------------------------------------------------------------------

sub _free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp')
        or die "no free port: $!\n";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub redis_running {
    return 0 unless $redis_pid;
    return waitpid($redis_pid, WNOHANG) == 0;
}

sub _ping {
    my $r = eval { redis_cmd('PING') };
    return defined $r && !ref $r && $r eq 'PONG';
}

sub _log_tail {
    open my $in, '<', "$redis_dir/redis.log" or return '';
    my @l = <$in>;
    return join '', @l[ ($#l > 9 ? $#l - 9 : 0) .. $#l ];
}

# Starts redis-server on the same port as before (if it is not running) and
# waits until it answers PING.
sub redis_start {
    return 1 if redis_running() && _ping();
    redis_stop() if $redis_pid;

    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        _prctl(1, 15);    # PR_SET_PDEATHSIG, SIGTERM: die with the test
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$redis_dir/redis.log";
        open STDERR, '>&', \*STDOUT;
        no warnings 'exec';
        exec $REDIS_SERVER, '--port', $redis_port, '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no', '--dir', $redis_dir,
             '--daemonize', 'no';
        POSIX::_exit(127);
    }
    $redis_pid = $pid;

    my $deadline = time + 5;
    while (time < $deadline) {
        return 1 if _ping();
        last unless redis_running();
        sleep 0.02;
    }
    my $log = _log_tail();
    redis_stop();
    die "redis-server did not start on port $redis_port:\n$log";
}

sub redis_stop {
    return unless $redis_pid;
    if (redis_running()) {
        kill 'TERM', $redis_pid;
        my $deadline = time + 5;
        while (time < $deadline) {
            last if waitpid($redis_pid, WNOHANG) != 0;
            sleep 0.01;
        }
        if (kill 0, $redis_pid) {
            kill 'KILL', $redis_pid;
            waitpid($redis_pid, 0);
        }
    }
    undef $redis_pid;
}

# ---------------------------------------------------------------------------
# The jobs stream
# ---------------------------------------------------------------------------

sub _jobs_key { ($_[0] // $DEFAULT_PREFIX) . ':jobs' }

sub job_count {
    my ($prefix) = @_;
    my $n = redis_cmd('XLEN', _jobs_key($prefix));
    die "redis: XLEN: $n->{error}\n" if ref $n;
    return $n;
}

# The decoded envelopes (field "job") of {prefix}:jobs, oldest first.
sub jobs {
    my ($prefix) = @_;
    my $key = _jobs_key($prefix);
    my $entries = redis_cmd('XRANGE', $key, '-', '+');
    die "redis: XRANGE $key: $entries->{error}\n" if ref $entries eq 'HASH';
    my @jobs;
    for my $e (@{ $entries || [] }) {
        my ($id, $fields) = @$e;
        my %f = @$fields;
        die "stream entry $id of $key has no \"job\" field\n"
            unless defined $f{job};
        my $job = eval { json_decode($f{job}) };
        die "stream entry $id of $key: \"job\" is not valid JSON: $@" if $@;
        push @jobs, $job;
    }
    return @jobs;
}

# ---------------------------------------------------------------------------
# The checks behind the custom sections
# ---------------------------------------------------------------------------

sub _last_request_index {
    my ($block) = @_;
    my $req = $block->request;
    return ref $req eq 'ARRAY' ? $#$req : 0;
}

sub _path_value {
    my ($doc, $path) = @_;
    my $cur = $doc;
    for my $seg (split /\./, $path) {
        if (ref $cur eq 'HASH' && exists $cur->{$seg}) {
            $cur = $cur->{$seg};
        } elsif (ref $cur eq 'ARRAY' && $seg =~ /^\d+$/ && $seg < @$cur) {
            $cur = $cur->[$seg];
        } else {
            return (0);
        }
    }
    my $str;
    if (!defined $cur)                      { $str = 'null' }
    elsif (JSON::PP::is_bool($cur))         { $str = $cur ? 'true' : 'false' }
    elsif (ref $cur)                        { $str = json_encode($cur) }
    else { $str = "$cur"; utf8::encode($str) if utf8::is_utf8($str) }
    return (1, $str);
}

sub _check_jobs {
    my ($block, $name, $dry_run) = @_;
    my $prefix = $block->jobs_prefix // $DEFAULT_PREFIX;
    my @field_lines = grep { /\S/ && !/^\s*#/ }
                      split /\n/, $block->job_fields // '';
    my $ntests = (defined $block->jobs ? 2 : 0) + @field_lines;
    return unless $ntests;

    if ($dry_run) {
        Test::More->builder->skip("$name - jobs - tests skipped due to $dry_run")
            for 1 .. $ntests;
        return;
    }

    # A block that ran with Redis down is checked after a restart.
    my @jobs = eval { redis_start() unless redis_running(); jobs($prefix) };
    my $err = $@;

    if (defined $block->jobs) {
        if ($err) {
            Test::More::fail("$name - jobs: $err") for 1 .. 2;
        } else {
            Test::More::is(scalar @jobs, scalar $block->jobs,
                           "$name - $prefix:jobs has " . $block->jobs . " entries");
            my $keys = eval { redis_cmd('KEYS', '*') } || [];
            my @outside = grep { index($_, "$prefix:") != 0 }
                          ref $keys eq 'ARRAY' ? @$keys : ();
            Test::More::is("@outside", '',
                           "$name - every Redis key is under $prefix:");
        }
    }

    for my $line (@field_lines) {
        my ($path, $op, $want) =
            $line =~ /^\s*(\S+)\s*(=~|=)\s*(.*?)\s*$/
            or do { Test::More::fail("$name - bad job_fields line: $line"); next };
        my $desc = "$name - job $path $op $want";
        if ($err || !@jobs) {
            Test::More::fail($desc);
            Test::More::diag($err || "no job in $prefix:jobs");
            next;
        }
        my ($exists, $got) = _path_value($jobs[-1], $path);
        if ($op eq '=~') {
            Test::More::like($exists ? $got : '(absent)', qr/$want/, $desc);
        } elsif ($want eq 'ABSENT') {
            Test::More::ok(!$exists, $desc)
                or Test::More::diag("$path is present");
        } elsif ($want eq 'PRESENT') {
            Test::More::ok($exists, $desc)
                or Test::More::diag("$path is absent");
        } else {
            Test::More::is($exists ? $got : '(absent)', $want, $desc);
        }
    }
}

# Waits until some client other than ourselves is connected to Redis.
sub _wait_for_module_connection {
    my ($name) = @_;
    my $deadline = time + 5;
    while (time < $deadline) {
        my $info = eval { redis_cmd('INFO', 'clients') } // '';
        my ($n) = $info =~ /^connected_clients:(\d+)/m;
        if (defined $n && $n - 1 >= 1) {    # minus this INFO connection
            sleep 0.1;
            return 1;
        }
        sleep 0.02;
    }
    Test::More::note("$name - the module did not reconnect to Redis within 5 s");
    return 0;
}

sub _preprocess {
    my ($block) = @_;
    %block_state = ();

    die "--- jobs / --- job_fields need the response: drop --- ignore_response\n"
        if defined $block->ignore_response
           && (defined $block->jobs || defined $block->job_fields);

    my $ok = eval {
        if (defined $block->redis_down) {
            redis_stop();
        } else {
            redis_start();
            my $r = redis_cmd('FLUSHALL');
            die "FLUSHALL: $r->{error}\n" if ref $r;
            if (defined(my $ms = $block->redis_pause)) {
                $r = redis_cmd('CLIENT', 'PAUSE', $ms, 'ALL');
                die "CLIENT PAUSE: $r->{error}\n" if ref $r;
                $block_state{pause_until} = time + $ms / 1000;
            }
        }
        1;
    };
    Test::More::fail($block->name . " - preparing Redis: $@") unless $ok;
}

sub _after_response {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $name = $block->name;
    my $last = _last_request_index($block);

    if (defined(my $k = $block->redis_start_after)) {
        if ($req_idx == $k && !$dry_run) {
            my $ok = eval { redis_start(); 1 };
            Test::More::fail("$name - starting Redis: $@") unless $ok;
            _wait_for_module_connection($name) if $ok;
        }
    }

    if (defined $block_state{pause_until} && $req_idx < $last) {
        my $left = $block_state{pause_until} - time;
        sleep $left + 0.15 if $left > -0.15;
    }

    _check_jobs($block, $name, $dry_run) if $req_idx == $last;
}

# ---------------------------------------------------------------------------
# Defaults for the webhook suites
# ---------------------------------------------------------------------------

# Gives every block of the file, unless it has its own: the given
# http_config, config and more_headers, and a --- response_headers check of
# "Content-Type: application/json" for every response (all of caresync's
# answers are JSON). Refuses blocks without --- jobs: every block says what
# is in Redis afterwards.
sub caresync_defaults {
    my (%d) = @_;
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my ($block) = @_;
        for my $s (qw(http_config config more_headers)) {
            $block->set_value($s, $d{$s})
                if defined $d{$s} && !defined $block->$s;
        }
        if (!defined $block->response_headers
            && !defined $block->response_headers_like)
        {
            my $req = $block->request;
            my $n = ref $req eq 'ARRAY' ? @$req : 1;
            my $h = "Content-Type: application/json";
            $block->set_value(response_headers => $n > 1 ? [($h) x $n] : $h);
        }
        die $block->name . ": every block must say what Redis holds "
            . "afterwards (--- jobs: N)\n" unless defined $block->jobs;
    });
}

# ---------------------------------------------------------------------------
# Set-up when the test file loads
# ---------------------------------------------------------------------------

# prctl(2) where we know its syscall number (Linux x86_64, aarch64); a
# no-op elsewhere.
sub _prctl {
    my ($option, $arg) = @_;
    my %sys_prctl = ('x86_64' => 157, 'aarch64' => 167);
    my ($arch) = $Config::Config{archname} =~ /^([^-]+)/;
    my $nr = $sys_prctl{$arch // ''} or return;
    eval { syscall($nr, $option, $arg, 0, 0, 0) };
}

# Make this process the reaper of its orphans: nginx runs as a daemon, and
# where PID 1 is slow to reap, Test::Nginx (which polls with kill 0) would
# otherwise wait for a zombie at every restart.
sub _become_subreaper { _prctl(36, 1) }    # PR_SET_CHILD_SUBREAPER

{
    no strict 'refs';
    for my $h (@FILTER_HELPERS) {
        *{"Test::Base::Filter::$h"} = \&{$h}
            unless defined &{"Test::Base::Filter::$h"};
    }
}

_become_subreaper();
$redis_dir = tempdir('caresync-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1);
$redis_port = _free_port();
$ENV{TEST_NGINX_REDIS_PORT} = $redis_port;
redis_start();

# Plain Test::More files (the drills) use Redis and the helpers only.
if (defined &Test::Nginx::Socket::add_block_preprocessor) {
    Test::Nginx::Socket::add_block_preprocessor(\&_preprocess);
    Test::Nginx::Socket::add_response_body_check(\&_after_response);
}

END {
    if ($$ == $parent_pid) {
        local $?;
        redis_stop();
    }
}

1;
