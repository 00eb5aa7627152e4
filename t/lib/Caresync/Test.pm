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
#   --- redis_keep            Redis is not emptied: the block sees what the
#                             previous block left (for a block that reads
#                             what the one before it wrote).
#   --- redis_requirepass: PW Redis asks for the password PW during the
#                             block (CONFIG SET requirepass, before the
#                             block's nginx is started); the helpers send
#                             AUTH PW. Taken off again after the block.
#   --- redis_age_after: K MS after the response to request K (0-based),
#                             deletes every key that would expire within MS
#                             milliseconds: what Redis would have expired
#                             by itself MS later (keys that never expire
#                             stay).
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
#   --- job_record            lines as in --- job_fields, checked against
#                             the status record (hash) {prefix}:job:<id>,
#                             <id> being the "job_id" of the last
#                             response's JSON body; plus two tests: the
#                             record's job_id is <id>, and so is the id of
#                             the last job in {prefix}:jobs.
#
# PHI never reaches a log: caresync_defaults() gives every block a
# --- no_error_log check (added to the block's own patterns) for each of
# phi_patterns(): the fixtures' names, birth dates, phones, e-mails,
# addresses, member and group numbers and card image ids, and the made-up
# values of phi_values(), which variant bodies should use when they need
# other PHI than the fixtures' (so that it is searched for too). Short
# values are matched as whole words only, so that they cannot match inside
# a pointer or a number of nginx's debug log; values too common to tell
# apart from log text (the enrollment fixture's "test", "123", "12") are
# not searched for.
#
# The checks run from an add_response_body_check hook, so they do not run
# for blocks with --- ignore_response (they are refused there).
#
# Job keys: loading this also writes a job key (mode 0600) and sets
# $ENV{TEST_NGINX_JOB_KEY} to its path, so that config sections can say
# `caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;`; job_key_file(ID) writes
# another one (rotation).  jobs() opens every sealed envelope with the
# keys written so far, with Python's `cryptography` (an AES-256-GCM apart
# from the module's, so the format is checked, not just round-tripped),
# and --- jobs adds one test: no PHI pattern (phi_patterns()) is readable
# in any entry of {prefix}:jobs as Redis holds it.  A block that queues
# in the clear on purpose says so:
#
#   --- jobs_in_clear         the same search must find PHI in the jobs
#                             (the proof that the search can fail).
#   --- raw_job_fields        lines as in --- job_fields, checked against
#                             the last job as Redis holds it (not opened):
#                               sealed.kid = t1
#                               patient = ABSENT

use strict;
use warnings;

use Config ();
use Cwd ();
use Digest::SHA ();
use Errno qw(EINTR);
use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec ();
use File::Temp qw(tempdir);
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use MIME::Base64 ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More ();

use Caresync::Phi qw(phi_patterns phi_values);

our @EXPORT = qw(
    redis_cmd redis_start redis_stop redis_running redis_port
    redis_suspend redis_resume
    fixture fixture_json json_encode json_decode
    jobs job_count raw_jobs job_key_file job_key_hex open_sealed
    enrollment_with user_action_with hint_with post_body body_of
    nested_json chunked_body
    hmac_signature standard_webhook_signature standard_webhook_headers
    metrics_samples phi_patterns phi_values
    caresync_defaults
);

# Helpers also callable, unqualified, from `--- request eval` sections:
# Test::Base evaluates those in the Test::Base::Filter package.
my @FILTER_HELPERS = qw(
    fixture fixture_json json_encode json_decode
    enrollment_with user_action_with hint_with post_body body_of
    nested_json chunked_body
    hmac_signature standard_webhook_signature standard_webhook_headers
    metrics_samples phi_values
);

my $ROOT = Cwd::abs_path(dirname(__FILE__) . '/../../..');   # the repo
my $FIXTURES = $ENV{CARESYNC_FIXTURES}
    // File::Spec->catdir($ROOT, '..', 'shared', 'fixtures');
my $REDIS_SERVER = $ENV{CARESYNC_REDIS_SERVER} || 'redis-server';
my $DEFAULT_PREFIX = '{caresync}';
my $REPLY_TIMEOUT = 10;     # seconds; a paused Redis answers late

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

my ($redis_port, $redis_pid, $redis_dir);
my %job_keys;           # id => hex, what jobs() opens sealed jobs with
my $redis_password;     # sent as AUTH by redis_cmd() while it is set
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

# The same for the Hint fixtures (default: hint/patient.created.json), as a
# request to /webhook/hint.
sub hint_with {
    my ($edit, $fixture) = @_;
    my $doc = fixture_json($fixture // 'hint/patient.created.json');
    $edit->($doc) if $edit;
    return post_body('/webhook/hint', json_encode($doc));
}

# The body of a request built by post_body() and the *_with() helpers:
# the bytes a signature is computed over.
sub body_of {
    my ($request) = @_;
    my (undef, $body) = split /\n/, $request, 2;
    return $body // '';
}

# ---------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------

# A Hint-style signature header value: prefix (default "sha256=") and the
# hex (default) or base64 HMAC-SHA256 of $body under the key bytes $key.
#   hmac_signature($key, $body, prefix => '', encoding => 'base64')
sub hmac_signature {
    my ($key, $body, %o) = @_;
    my $mac = Digest::SHA::hmac_sha256($body, $key);
    my $enc = ($o{encoding} // 'hex') eq 'base64'
            ? MIME::Base64::encode_base64($mac, '')
            : unpack('H*', $mac);
    return ($o{prefix} // 'sha256=') . $enc;
}

# A Standard Webhooks "v1,<base64>" entry: HMAC-SHA256 under the decoded
# secret ("whsec_<base64>") of "<id>.<timestamp>.<body>".
sub standard_webhook_signature {
    my ($secret, $id, $ts, $body) = @_;
    (my $b64 = $secret) =~ s/^whsec_//;
    my $key = MIME::Base64::decode_base64($b64);
    return 'v1,' . MIME::Base64::encode_base64(
        Digest::SHA::hmac_sha256("$id.$ts.$body", $key), '');
}

# The three Standard Webhooks header lines, for --- more_headers (no
# trailing newline). $ts defaults to now; `signature => '...'` replaces
# the computed one, `omit => 'webhook-id'` leaves a header out.
sub standard_webhook_headers {
    my ($secret, $id, $body, %o) = @_;
    my $ts = $o{timestamp} // time;
    $ts = int $ts if $ts =~ /\A-?\d+(?:\.\d*)?\z/;
    my %h = (
        'webhook-id'        => $id,
        'webhook-timestamp' => $ts,
        'webhook-signature' => $o{signature}
            // standard_webhook_signature($secret, $id, $ts, $body),
    );
    my %omit = map { $_ => 1 } ref $o{omit} ? @{ $o{omit} }
                                            : grep { defined } $o{omit};
    return join "\n", map { "$_: $h{$_}" }
                      grep { !$omit{$_} }
                      qw(webhook-id webhook-timestamp webhook-signature);
}

# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------

# A --- response_body_filters filter for the Prometheus text of
# caresync_metrics: the samples without the comment lines, and without
# the figures that depend on timing (the finite latency buckets and the
# latency sum). Ends with one line per label value that is not one of our
# own words or numbers (so that none can come from a request), if any.
sub metrics_samples {
    my ($text) = @_;
    my (@out, @odd);
    for my $line (split /\n/, $text // '') {
        next if $line =~ /^#/ || $line !~ /\S/;
        while ($line =~ /(\w+)="((?:[^"\\]|\\.)*)"/g) {
            push @odd, "odd label value: $1=$2"
                unless $2 =~ /\A(?:[a-z][a-z_]*|\d+(?:\.\d+)?|\+Inf)\z/;
        }
        next if $line =~ /^caresync_enqueue_seconds_bucket\{.*le="[0-9.]+"\}/
             || $line =~ /^caresync_enqueue_seconds_sum\{/;
        push @out, $line;
    }
    return join '', map { "$_\n" } @out, @odd;
}

# $body as a chunked request body: one chunk (or chunks of $size bytes),
# then the last chunk. Send it with "Transfer-Encoding: chunked" in
# --- more_headers (Test::Nginx then sends the body as is, without a
# Content-Length).
sub chunked_body {
    my ($body, $size) = @_;
    my @chunks = $size ? unpack("(a$size)*", $body) : ($body);
    return join('', map { sprintf "%x\r\n%s\r\n", length $_, $_ } @chunks)
         . "0\r\n\r\n";
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

    my $req = '';
    for my $cmd (defined $redis_password ? (['AUTH', $redis_password]) : (),
                 \@args)
    {
        $req .= '*' . scalar(@$cmd) . "\r\n";
        for my $a (@$cmd) {
            my $b = "$a";
            utf8::encode($b) if utf8::is_utf8($b);
            $req .= '$' . length($b) . "\r\n$b\r\n";
        }
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
    if (defined $redis_password) {
        my $auth = _read_reply($reader);
        die "redis: AUTH: $auth->{error}\n" if ref $auth;
    }
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
    undef $redis_password;      # a new server asks for none

    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        _prctl(1, 15);    # PR_SET_PDEATHSIG, SIGTERM: die with the test
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$redis_dir/redis.log";
        open STDERR, '>&', \*STDOUT;
        no warnings 'exec';
        # the drills restart Redis and need what it acknowledged to stay
        my @persist = $ENV{CARESYNC_REDIS_PERSIST}
                    ? ('--appendonly', 'yes', '--appendfsync', 'always')
                    : ('--appendonly', 'no');
        exec $REDIS_SERVER, '--port', $redis_port, '--bind', '127.0.0.1',
             '--save', '', @persist, '--dir', $redis_dir,
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

# Freezes redis-server (SIGSTOP): its port still accepts connections (the
# kernel completes them) and takes bytes, but nothing is ever answered,
# as with a Redis stuck or a host gone silent. redis_resume() lets it go
# on (SIGCONT) with everything it was sent meanwhile.
sub redis_suspend {
    die "redis_suspend: redis-server is not running\n" unless redis_running();
    kill 'STOP', $redis_pid;
}

sub redis_resume {
    kill 'CONT', $redis_pid if $redis_pid;
}

sub redis_stop {
    return unless $redis_pid;
    if (redis_running()) {
        kill 'CONT', $redis_pid;    # a suspended one cannot act on TERM
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

# The "job" fields of {prefix}:jobs as Redis holds them, oldest first.
sub raw_jobs {
    my ($prefix) = @_;
    my $key = _jobs_key($prefix);
    my $entries = redis_cmd('XRANGE', $key, '-', '+');
    die "redis: XRANGE $key: $entries->{error}\n" if ref $entries eq 'HASH';
    my @raw;
    for my $e (@{ $entries || [] }) {
        my ($id, $fields) = @$e;
        my %f = @$fields;
        die "stream entry $id of $key has no \"job\" field\n"
            unless defined $f{job};
        push @raw, $f{job};
    }
    return @raw;
}

# The decoded envelopes of {prefix}:jobs, oldest first, sealed ones opened.
sub jobs {
    my ($prefix) = @_;
    my @raw = raw_jobs($prefix);
    my @open = open_sealed(@raw);
    my @jobs;
    for my $i (0 .. $#raw) {
        my $job = eval { json_decode($open[$i]) };
        die "entry $i of " . _jobs_key($prefix)
            . ": \"job\" is not valid JSON: $@" if $@;
        push @jobs, $job;
    }
    return @jobs;
}

# A job key file (mode 0600, 64 hex characters and a newline) for ID;
# its key opens jobs from now on.  Returns the path.
sub job_key_file {
    my ($id, $hex) = @_;
    $hex //= unpack 'H*', join '', map { chr int rand 256 } 1 .. 32;
    my $path = "$redis_dir/job-$id.key";
    open my $fh, '>', $path or die "$path: $!";
    print $fh "$hex\n";
    close $fh or die "$path: $!";
    chmod 0600, $path or die "$path: $!";
    $job_keys{$id} = $hex;
    return $path;
}

sub job_key_hex { $job_keys{$_[0]} }

# Envelopes in, the same opened (sealed ones; others as they are).  A
# sealed one that does not open dies, naming its key id.
my $OPEN_PY = <<'PY';
import base64, json, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
keys = dict(k.split("=") for k in os.environ["CS_JOB_KEYS"].split())
for line in sys.stdin.buffer:
    data = base64.b64decode(line)
    i = data.rfind(b',"sealed":{"kid":"')
    if i < 0:
        out = data
    else:
        s = json.loads(data)["sealed"]
        if s["kid"] not in keys:
            sys.exit("sealed under key %s, which the test does not have" % s["kid"])
        pt = AESGCM(bytes.fromhex(keys[s["kid"]])).decrypt(
            base64.b64decode(s["iv"]), base64.b64decode(s["ct"]), data[:i])
        out = data[:i] + pt + b"}"
    sys.stdout.write(base64.b64encode(out).decode() + "\n")
PY

sub open_sealed {
    my (@raw) = @_;
    return @raw unless grep { index($_, ',"sealed":{"kid":"') >= 0 } @raw;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    open my $in, '>', "$dir/in" or die "$dir/in: $!";
    print $in MIME::Base64::encode_base64($_, '') . "\n" for @raw;
    close $in;
    local $ENV{CS_JOB_KEYS} = join ' ', map { "$_=$job_keys{$_}" }
                                        sort keys %job_keys;
    open my $py, '>', "$dir/open.py" or die "$dir/open.py: $!";
    print $py $OPEN_PY;
    close $py;
    my @out = `python3 $dir/open.py < $dir/in 2>&1`;
    die "opening sealed jobs: @out" if $? || @out != @raw;
    return map { MIME::Base64::decode_base64($_) } @out;
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
    my @raw_lines = grep { /\S/ && !/^\s*#/ }
                    split /\n/, $block->raw_job_fields // '';
    my $ntests = (defined $block->jobs ? 3 : 0) + @field_lines + @raw_lines;
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
            Test::More::fail("$name - jobs: $err") for 1 .. 3;
        } else {
            # what Redis holds, before any opening: no PHI to read there
            my @raw = raw_jobs($prefix);
            my $phi = Caresync::Phi::phi_hits(join "\n", @raw);
            if (defined $block->jobs_in_clear) {
                Test::More::ok(@raw && $phi, "$name - the search finds "
                               . "the PHI of jobs queued in the clear");
            } else {
                # counted, not shown: the output holds no PHI either
                Test::More::is($phi, 0, "$name - no PHI pattern "
                               . "readable in $prefix:jobs");
            }
            Test::More::is(scalar @jobs, scalar $block->jobs,
                           "$name - $prefix:jobs has " . $block->jobs . " entries");
            my $keys = eval { redis_cmd('KEYS', '*') } || [];
            my @outside = grep { index($_, "$prefix:") != 0 }
                          ref $keys eq 'ARRAY' ? @$keys : ();
            Test::More::is("@outside", '',
                           "$name - every Redis key is under $prefix:");
        }
    }

    my @queued = $err || !@jobs ? ()
               : eval { map { json_decode($_) } raw_jobs($prefix) };
    my @checks = ((map { [$_, 'job', $jobs[-1]] } @field_lines),
                  (map { [$_, 'queued job', $queued[-1]] } @raw_lines));
    for my $c (@checks) {
        my ($line, $what, $doc) = @$c;
        my ($path, $op, $want) =
            $line =~ /^\s*(\S+)\s*(=~|=)\s*(.*?)\s*$/
            or do { Test::More::fail("$name - bad job_fields line: $line"); next };
        my $desc = "$name - $what $path $op $want";
        if ($err || !@jobs || !$doc) {
            Test::More::fail($desc);
            Test::More::diag($err || "no job in $prefix:jobs");
            next;
        }
        my ($exists, $got) = _path_value($doc, $path);
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

# --- job_record: the status record named by the last response's job_id.
sub _check_job_record {
    my ($block, $name, $body, $dry_run) = @_;
    return unless defined $block->job_record;
    my @lines = grep { /\S/ && !/^\s*#/ } split /\n/, $block->job_record;
    my $ntests = 2 + @lines;

    if ($dry_run) {
        Test::More->builder->skip("$name - job_record - tests skipped due to $dry_run")
            for 1 .. $ntests;
        return;
    }

    my $prefix = $block->jobs_prefix // $DEFAULT_PREFIX;
    my $id = eval { json_decode($body // '')->{job_id} };
    my ($rec, @jobs);
    my $ok = eval {
        die "the response has no job_id\n" unless defined $id && !ref $id;
        redis_start() unless redis_running();
        my $all = redis_cmd('HGETALL', "$prefix:job:$id");
        die "HGETALL: $all->{error}\n" if ref $all eq 'HASH';
        die "no status record $prefix:job:$id\n" unless $all && @$all;
        $rec = { @$all };
        @jobs = jobs($prefix);
        1;
    };
    if (!$ok) {
        Test::More::fail("$name - job_record: $@") for 1 .. $ntests;
        return;
    }

    Test::More::is($rec->{job_id}, $id,
                   "$name - status record $prefix:job:$id has job_id $id");
    Test::More::is(@jobs ? $jobs[-1]{id} : '(no job)', $id,
                   "$name - the last job in $prefix:jobs has id $id");

    for my $line (@lines) {
        my ($path, $op, $want) =
            $line =~ /^\s*(\S+)\s*(=~|=)\s*(.*?)\s*$/
            or do { Test::More::fail("$name - bad job_record line: $line"); next };
        my $desc = "$name - status record $path $op $want";
        my $exists = exists $rec->{$path};
        my $got = $exists ? $rec->{$path} : '(absent)';
        if ($op eq '=~') {
            Test::More::like($got, qr/$want/, $desc);
        } elsif ($want eq 'ABSENT') {
            Test::More::ok(!$exists, $desc);
        } elsif ($want eq 'PRESENT') {
            Test::More::ok($exists, $desc);
        } else {
            Test::More::is($got, $want, $desc);
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

    die "--- jobs / --- job_fields / --- job_record need the response: "
        . "drop --- ignore_response\n"
        if defined $block->ignore_response
           && (defined $block->jobs || defined $block->job_fields
               || defined $block->raw_job_fields
               || defined $block->job_record);

    my $ok = eval {
        if (defined $block->redis_down) {
            redis_stop();
        } else {
            redis_start();
            _requirepass(undef);
            if (!defined $block->redis_keep) {
                my $r = redis_cmd('FLUSHALL');
                die "FLUSHALL: $r->{error}\n" if ref $r;
            }
            if (defined(my $pw = $block->redis_requirepass)) {
                $pw =~ s/\s+\z//;
                _requirepass($pw);
            }
            if (defined(my $ms = $block->redis_pause)) {
                my $r = redis_cmd('CLIENT', 'PAUSE', $ms, 'ALL');
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

    if (defined(my $age = $block->redis_age_after)) {
        my ($k, $ms) = $age =~ /^\s*(\d+)\s+(\d+)\s*$/
            or die "$name: --- redis_age_after takes: K MS\n";
        if ($req_idx == $k && !$dry_run) {
            my $ok = eval { _age($ms); 1 };
            Test::More::fail("$name - ageing Redis: $@") unless $ok;
        }
    }

    if ($req_idx == $last) {
        _check_jobs($block, $name, $dry_run);
        _check_job_record($block, $name, $body, $dry_run);
        if (defined $block->redis_requirepass && redis_running()) {
            my $ok = eval { _requirepass(undef); 1 };
            Test::More::fail("$name - restoring Redis: $@") unless $ok;
        }
    }
}

# Redis asks for $pw from now on, or for no password (undef).
sub _requirepass {
    my ($pw) = @_;
    return if !defined $pw && !defined $redis_password;
    my $r = redis_cmd('CONFIG', 'SET', 'requirepass', $pw // '');
    die "CONFIG SET requirepass: $r->{error}\n" if ref $r;
    $redis_password = $pw;
}

# Deletes the keys that would expire within $ms milliseconds.
sub _age {
    my ($ms) = @_;
    my $keys = redis_cmd('KEYS', '*');
    die "KEYS: $keys->{error}\n" if ref $keys eq 'HASH';
    for my $key (@{ $keys || [] }) {
        my $left = redis_cmd('PTTL', $key);
        die "PTTL: $left->{error}\n" if ref $left;
        redis_cmd('DEL', $key) if $left >= 0 && $left <= $ms;
    }
}

# ---------------------------------------------------------------------------
# PHI that must never reach a log: Caresync::Phi (phi_patterns, phi_values)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Defaults for the webhook suites
# ---------------------------------------------------------------------------

# Gives every block of the file, unless it has its own: the given
# http_config, config and more_headers, and a --- response_headers check of
# "Content-Type: application/json" for every response (all of caresync's
# answers are JSON). Refuses blocks without --- jobs: every block says what
# is in Redis afterwards. And to every block, beside its own patterns: a
# --- no_error_log check for each of phi_patterns().
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

        my $own = $block->no_error_log;
        my @own = !defined $own           ? ()
                : ref $own eq 'ARRAY'     ? @$own
                : ref $own eq 'Regexp'    ? ($own)
                : do { (my $t = $own) =~ s/\n+\z//; split /\n+/, $t };
        $block->set_value(no_error_log => [@own, phi_patterns()]);
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
$ENV{TEST_NGINX_JOB_KEY} = job_key_file('t1');
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
