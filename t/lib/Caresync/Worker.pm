package Caresync::Worker;

# Helpers for the worker's tests (t/worker/*.t): a throwaway redis-server
# and the fake APIs on free loopback ports, a config file, worker
# processes, jobs seeded in the format of spec/job.md, and bounded waits.
# Everything started here is killed when the test ends.
#
# Job keys: job_key(ID) writes a key file (0600) in the test's directory.
# start_nginx() gives the module `caresync_job_key` lines for the ids of
# its job_keys option (default: w1), and from then on write_config() gives
# the worker the same keys as crypto.keys (its crypto.keys option, or
# undef, overrides them), so an end-to-end test runs sealed jobs.

use strict;
use warnings;

use Exporter ();
our @ISA = ('Exporter');
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 ();
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);
use Cwd qw(abs_path);
# processes are started, and killed at the end, by the topology helpers
use Caresync::RedisTopology ();
use File::Basename qw(basename dirname);

our @EXPORT = qw(start_env redis redis_at fake_get fake_post write_config
                 start_nginx
                 start_worker stop_worker worker_cmd seed_job user_action_job
                 wait_status wait_for sf_requests sf_contacts job_status
                 kill_redis restart_redis no_phi_in_log start_otlp_stub
                 fixture_path fixture_text seed_report_export job_key worker_keys run_browser);

my $ROOT = abs_path(dirname(__FILE__) . '/../../..');
my $ENV_;
my %LOGS;
my $JSON = JSON::PP->new->canonical->utf8;

sub root { $ROOT }

# `make test-sanitize` runs every suite with the ASan runtime preloaded
# (for the stock nginx); redis-server, Python and the instrumented worker
# must not get it.  Its ASAN_OPTIONS (log_path) still collect reports.
my $SAN = ($ENV{LD_PRELOAD} // '') =~ /asan/ ? 1 : 0;
our $PRELOAD = delete $ENV{LD_PRELOAD};

# The binaries under test: CARESYNC_WORKER / CARESYNC_SF_PROBE, else the
# instrumented build under test-sanitize, else build/.
sub built {
    my ($env, $name) = @_;
    return $ENV{$env} if $ENV{$env};
    return "$ROOT/build-san/$name" if $SAN && -x "$ROOT/build-san/$name";
    return "$ROOT/build/$name";
}

sub worker_bin { built('CARESYNC_WORKER', 'caresync-worker') }
sub probe_bin { built('CARESYNC_SF_PROBE', 'cw-sf-probe') }

sub import {
    unless (-x worker_bin()) {
        require Test::More;
        Test::More::plan(skip_all => worker_bin() . ' is not built '
                                     . '(make worker)');
    }
    __PACKAGE__->export_to_level(1, @_);
}

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub spawn { Caresync::RedisTopology::spawn_process(@_) }

# Polls `$cond` every 20 ms until true or `$timeout` seconds pass.
sub wait_for { Caresync::RedisTopology::topology_wait(@_) }

# ---- a minimal RESP client ----

package Caresync::Worker::Redis;

sub new {
    my ($class, $port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5) or return;
    return bless { s => $s }, $class;
}

sub cmd {
    my ($self, @args) = @_;
    my $buf = '*' . scalar(@args) . "\r\n";
    for my $a (@args) {
        my $b = "$a";
        utf8::encode($b) if utf8::is_utf8($b);
        $buf .= '$' . length($b) . "\r\n$b\r\n";
    }
    $self->{s}->print($buf);
    return $self->read_reply;
}

sub read_line {
    my ($self) = @_;
    my $l = $self->{s}->getline;
    die "redis: connection closed" unless defined $l;
    $l =~ s/\r\n$//;
    return $l;
}

sub read_reply {
    my ($self) = @_;
    my $l = $self->read_line;
    my ($t, $rest) = (substr($l, 0, 1), substr($l, 1));
    return $rest if $t eq '+';
    return { error => $rest } if $t eq '-';
    return 0 + $rest if $t eq ':';
    if ($t eq '$') {
        return undef if $rest < 0;
        my $data = '';
        while (length($data) < $rest + 2) {
            my $n = $self->{s}->read($data, $rest + 2 - length($data),
                                     length($data));
            die "redis: short read" unless $n;
        }
        return substr($data, 0, $rest);
    }
    if ($t eq '*') {
        return undef if $rest < 0;
        return [ map { $self->read_reply } 1 .. $rest ];
    }
    die "redis: bad reply $l";
}

package Caresync::Worker;

# ---- the environment: redis + fakes + a directory ----

sub start_env {
    my (%o) = @_;
    my $dir = tempdir('cw-test-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    my $rport = free_port();
    my ($rpid, $r) = run_redis($dir, $rport);

    my @fargs = ("$ROOT/t/fakes/fake_apis.py", '--port', 0,
                 '--port-file', "$dir/fake.port");
    push @fargs, '--latency-ms', $o{latency_ms} if $o{latency_ms};
    push @fargs, '--procs', $o{procs} if $o{procs};
    push @fargs, '--bench' if $o{bench};
    my ($tls_port, $cert);
    if ($o{tls}) {
        # a self-signed certificate for 127.0.0.1
        $cert = "$dir/fake-cert.pem";
        system('openssl req -x509 -newkey rsa:2048 -nodes -days 2 '
               . "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
               . "-keyout $dir/fake-key.pem -out $dir/fake-crt.pem "
               . '>/dev/null 2>&1') == 0 or die 'openssl req failed';
        system("cat $dir/fake-crt.pem $dir/fake-key.pem > $cert");
        push @fargs, '--tls-cert', $cert;
    }
    spawn("$dir/fake.log", 'python3', @fargs);
    wait_for(sub { -s "$dir/fake.port" }, 15) or die "fake did not start";
    open my $fh, '<', "$dir/fake.port" or die;
    chomp(my $fport = <$fh>);
    if ($o{tls}) {
        wait_for(sub { -s "$dir/fake.port.tls" }, 10) or die 'no TLS port';
        open my $th, '<', "$dir/fake.port.tls" or die;
        chomp($tls_port = <$th>);
    }

    $ENV_ = { dir => $dir, redis_port => $rport, redis => $r,
              redis_pid => $rpid,
              fake_port => $fport,
              fake_tls => $tls_port && "https://127.0.0.1:$tls_port",
              fake_ca => $tls_port && "$dir/fake-crt.pem",
              fake => "http://127.0.0.1:$fport",
              http => HTTP::Tiny->new(timeout => 10, keep_alive => 1) };
    return $ENV_;
}

# A job key file for ID (64 hex characters, mode 0600); its path.
sub job_key {
    my ($id) = @_;
    my $path = "$ENV_->{dir}/job-$id.key";
    return $path if -e $path;
    my $hex = unpack 'H*', join '', map { chr int rand 256 } 1 .. 32;
    open my $fh, '>', $path or die "$path: $!";
    print $fh "$hex\n";
    close $fh;
    chmod 0600, $path or die "$path: $!";
    return $path;
}

# crypto.keys for the ids given: "id:/path id:/path".
sub worker_keys { join ' ', map { "$_:" . job_key($_) } @_ }

sub redis { $ENV_->{redis} }

# The helpers (seed_job, job_status, redis()) talk to this node from now
# on: a primary after a failover, a Cluster node, a TLS server's plain port.
sub redis_at {
    my ($port, $host) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $host // '127.0.0.1',
                                  PeerPort => $port, Proto => 'tcp',
                                  Timeout => 5)
        or die "redis at " . ($host // '127.0.0.1') . ":$port: $!";
    return $ENV_->{redis} = bless { s => $s }, 'Caresync::Worker::Redis';
}
sub env { $ENV_ }

sub run_redis {
    my ($dir, $port) = @_;
    my $pid = spawn("$dir/redis.log", 'redis-server', '--port', $port,
                    '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
                    '--dir', $dir);
    my $r = wait_for(sub { Caresync::Worker::Redis->new($port) }, 10)
        or die "redis-server did not start";
    wait_for(sub { my $x = eval { $r->cmd('PING') }; $x && $x eq 'PONG' }, 10)
        or die "redis-server does not answer";
    return ($pid, $r);
}

# Kills redis-server (SIGKILL: an outage, data lost); `restart_redis`
# brings an empty one back on the same port.
sub kill_redis {
    kill 'KILL', $ENV_->{redis_pid};
    waitpid($ENV_->{redis_pid}, 0);
    Caresync::RedisTopology::forget_process($ENV_->{redis_pid});
}

sub restart_redis {
    ($ENV_->{redis_pid}, $ENV_->{redis}) = run_redis($ENV_->{dir},
                                                     $ENV_->{redis_port});
}

sub fake_get {
    my ($path) = @_;
    my $res = $ENV_->{http}->get($ENV_->{fake} . $path);
    die "fake GET $path: $res->{status} $res->{content}"
        unless $res->{success};
    return $JSON->decode($res->{content});
}

sub fake_post {
    my ($path, $data) = @_;
    my $res = $ENV_->{http}->post($ENV_->{fake} . $path, {
        content => $JSON->encode($data // {}),
        headers => { 'Content-Type' => 'application/json' } });
    die "fake POST $path: $res->{status} $res->{content}"
        unless $res->{success};
    return $JSON->decode($res->{content});
}

sub sf_requests {
    my (%f) = @_;
    my $all = fake_get('/__fake/requests?app=salesforce');
    return [ grep {
        (!$f{method} || $_->{method} eq $f{method})
        && (!$f{path} || $_->{path} =~ $f{path})
    } @$all ];
}

sub sf_contacts {
    return { map { $_->{Id} => $_ } @{ fake_get('/__fake/salesforce/contacts') } };
}

# Where a fixture of the shared contract is, e.g.
# fixture_path('salesforce/report-export.csv'); CARESYNC_FIXTURES moves them.
sub fixture_path {
    my ($rel) = @_;
    return ($ENV{CARESYNC_FIXTURES} // "$ROOT/../shared/fixtures") . "/$rel";
}

# The text of a fixture, e.g. fixture_text('helparound/enrollment.json').
sub fixture_text {
    my ($rel) = @_;
    my $path = fixture_path($rel);
    open my $fh, '<', $path or die "$path: $!";
    local $/;
    return <$fh>;
}

# The fakes behind a batch of the report export (salesforce/report-export.csv):
# HealthSherpa knows the search-match contact; Salesforce holds the
# report's two contacts, John Doe and Maria Lopez, and any given after them.
# Returns HealthSherpa's contact.
sub seed_report_export {
    my (@more) = @_;
    my $hs = JSON::PP->new->decode(fixture_text('healthsherpa/search-match.json'))
             ->{data}{contact};
    fake_post('/__fake/healthsherpa/contacts', [ $hs ]);
    fake_post('/__fake/salesforce/contacts', [
        { Id => '003Hs00001AbCdEIAV', FirstName => 'John', LastName => 'Doe',
          Birthdate => '1955-03-01' },
        { Id => '003Hs00001XyZwVIAV', FirstName => 'Maria', LastName => 'Lopez',
          Email => 'maria@example.org' }, @more ]);
    return $hs;
}

# A stand-in OTLP/HTTP collector (t/fakes/otlp_stub.py): its base URL.
sub start_otlp_stub {
    my $pf = "$ENV_->{dir}/otlp.port";
    unlink $pf;
    spawn("$ENV_->{dir}/otlp.log", 'python3', "$ROOT/t/fakes/otlp_stub.py",
          '--port-file', $pf);
    wait_for(sub { -s $pf }, 15) or die 'the OTLP stub did not start';
    open my $fh, '<', $pf or die;
    chomp(my $port = <$fh>);
    return "http://127.0.0.1:$port";
}

# ---- config and worker processes ----

my $NCONF = 0;

sub write_config {
    my (%o) = @_;
    my %sec = (
        redis => { host => '127.0.0.1', port => $ENV_->{redis_port},
                   prefix => '{caresync}' },
        worker => { concurrency => 8, max_attempts => 3,
                    backoff_base_ms => 100, backoff_max_ms => 400,
                    claim_idle_ms => 1500, reclaim_interval_ms => 200,
                    poll_ms => 100, shutdown_deadline_ms => 5000,
                    log_level => 'debug' },
        http => { timeout_ms => 5000, connect_timeout_ms => 2000 },
        # the fakes are http://127.0.0.1: opted in, as the default
        # takes https on Salesforce's own hosts only
        salesforce => { login_url => $ENV_->{fake},
                        instance_domains => 'http://127.0.0.1',
                        auth => 'client_credentials',
                        client_id => 'fake-client-id',
                        client_secret_env => 'CW_TEST_SF_SECRET' },
        hint => { base_url => $ENV_->{fake}, api_key => 'fake-hint-key' },
        healthsherpa => { base_url => $ENV_->{fake},
                          api_key => 'fake-hs-key',
                          agent_email => 'agent@example.org' },
    );
    $ENV{CW_TEST_SF_SECRET} //= 'fake-client-secret';
    $sec{crypto}{keys} = worker_keys(@{ $ENV_->{job_keys} })
        if $ENV_->{job_keys};
    for my $k (keys %o) {
        my ($s, $key) = split /\./, $k, 2;
        if (defined $o{$k}) { $sec{$s}{$key} = $o{$k} }
        else { delete $sec{$s}{$key} }
    }
    my $path = "$ENV_->{dir}/worker" . (++$NCONF) . ".conf";
    open my $fh, '>', $path or die;
    print $fh "# written by Caresync::Worker\n";
    for my $s (qw(redis worker retention http salesforce hint healthsherpa
                  helparound metrics tracing crypto)) {
        next unless %{ $sec{$s} // {} };
        print $fh "\n[$s]\n";
        print $fh "$_ = $sec{$s}{$_}\n" for sort keys %{ $sec{$s} };
    }
    close $fh;
    return $path;
}

# Starts `caresync-worker run`; its stderr goes to "$dir/<name>.log".
sub start_worker {
    my ($conf, $name) = @_;
    $name //= 'worker';
    my $log = "$ENV_->{dir}/$name.log";
    my $pid = spawn($log, worker_bin(), 'run', '--config', $conf);
    $LOGS{$pid} = $log;
    return wantarray ? ($pid, $log) : $pid;
}

# Signals the worker and waits (bounded) for it to exit; returns $?.
sub stop_worker {
    my ($pid, $sig, $timeout) = @_;
    kill $sig // 'TERM', $pid;
    my $st;
    wait_for(sub { my $r = waitpid($pid, WNOHANG); $st = $?; $r == $pid },
             $timeout // 15) or do { kill 'KILL', $pid; waitpid($pid, 0);
                                     return -1 };
    Caresync::RedisTopology::forget_process($pid);
    # the ASan/UBSan build reports into the worker's log: make it count
    my $log = $LOGS{$pid};
    if ($log && open my $fh, '<', $log) {
        local $/;
        my $all = <$fh>;
        if ($all =~ /(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:)/) {
            Test::More::diag("sanitizer report in $log:\n$all");
            return -2;
        }
    }
    return $st;
}

# Runs an operator command; returns (exit status, stdout, stderr).
sub worker_cmd {
    my ($conf, @args) = @_;
    my $dir = $ENV_->{dir};
    my $pid = fork // die;
    if ($pid == 0) {
        open STDOUT, '>', "$dir/cmd.out";
        open STDERR, '>', "$dir/cmd.err";
        exec worker_bin(), @args, '--config', $conf;
        exit 127;
    }
    waitpid($pid, 0);
    my $st = $? >> 8;
    local $/;
    open my $o, '<', "$dir/cmd.out"; my $out = <$o> // '';
    open my $e, '<', "$dir/cmd.err"; my $err = <$e> // '';
    return ($st, $out, $err);
}

# ---- nginx with the module, for the end-to-end test ----

# Returns the port, or undef when nginx or the module is not there. Logs
# in <dir>/nginx/logs: error.log at `log_level => L` (default info), and
# access.log in nginx's default format with `access_log => 1` (default
# off).
sub start_nginx {
    my ($locations, %o) = @_;
    my $level = $o{log_level} // 'info';
    my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    # the module built next to the worker under test (build/ or build-san/)
    my $module = $ENV{TEST_NGINX_LOAD_MODULES}
                 || dirname(worker_bin()) . '/ngx_http_caresync_module.so';
    return undef unless -x $nginx && -f $module;
    my $asan = $SAN || $module =~ m{/build-san/};

    my $dir = "$ENV_->{dir}/nginx";
    mkdir $dir; mkdir "$dir/logs";
    my $port = $o{port} // free_port();
    my @keys = @{ $o{job_keys} // ['w1'] };
    $ENV_->{job_keys} = [@keys];
    my $key_lines = join "\n    ",
                    map { "caresync_job_key $_ file:" . job_key($_) . ';' }
                    @keys;
    open my $fh, '>', "$dir/nginx.conf" or die;
    print $fh <<"CONF";
load_module $module;
daemon off;
master_process @{[ $o{master} ? 'on' : 'off' ]};
worker_processes 1;
error_log $dir/logs/error.log $level;
pid $dir/logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log @{[ $o{access_log} ? "$dir/logs/access.log" : 'off' ]};
    client_body_temp_path $dir/tmp;
    caresync_redis 127.0.0.1:$ENV_->{redis_port} timeout=1s;
    $key_lines
    server {
        listen 127.0.0.1:$port;
        $locations
    }
}
CONF
    close $fh;
    # the instrumented module needs the ASan runtime in the stock nginx
    local $ENV{LD_PRELOAD} = $PRELOAD || `cc -print-file-name=libasan.so`
        =~ s/\s+$//r if $asan;
    local $ENV{ASAN_OPTIONS} = $ENV{ASAN_OPTIONS} // 'detect_leaks=0'
        if $asan;
    spawn("$dir/logs/stderr.log", $nginx, '-p', $dir, '-c', "$dir/nginx.conf");
    wait_for(sub { IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => $port) }, 10)
        or die "nginx did not start: see $dir/logs";
    return $port;
}

# ---- jobs ----

my $NJOB = 0;

sub user_action_job {
    my (%o) = @_;
    my $id = $o{id} // sprintf('01TESTJOB%05d%06d', $$ % 100000, ++$NJOB);
    return {
        v => 1, id => $id, type => $o{type} // 'helparound.user_action',
        received_at => '2026-11-21T10:00:05.000Z',
        idempotency_key => 'a' x 64,
        source => { system => 'helparound',
                    event => 'HelpAround.Patient.UserAction.ViewedTracker',
                    program_id => 'prog-1',
                    sent_at => $o{at} // '2026-11-21T10:00:00.123Z' },
        patient => { source_id => $o{source_id} // 'ha-1',
                     external_id => $o{external_id} // 'b9520bbc-0000',
                     external_ids => [] },
        action => { user_action => 'viewedTracker',
                    at => $o{at} // '2026-11-21T10:00:00.123Z' },
    };
}

# XADDs a job; once start_nginx() gave the edge keys, sealed as the edge
# seals it (the last key, the head authenticated), unless clear => 1.
sub seed_job {
    my ($job, %o) = @_;
    my $text = $ENV_->{job_keys} && !$o{clear} ? seal_job($job)
                                               : $JSON->encode($job);
    my $id = redis()->cmd('XADD', '{caresync}:jobs', '*', 'job', $text);
    die "XADD failed" if ref $id;
    return $job->{id};
}

# The envelope of $job sealed under the edge's last key, by Python's
# `cryptography` (the format of src/cs_seal.h: "patient" and "raw" after
# the head, sealed, the head's bytes as additional data).
my $SEAL_PY = <<'PY';
import base64, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
head, tail = (base64.b64decode(l) for l in sys.stdin.read().split())
iv = os.urandom(12)
ct = AESGCM(bytes.fromhex(os.environ["CS_KEY"])).encrypt(iv, tail, head)
sys.stdout.write((head + b',"sealed":{"kid":"' + os.environ["CS_KID"].encode()
                  + b'","iv":"' + base64.b64encode(iv) + b'","ct":"'
                  + base64.b64encode(ct) + b'"}}').decode())
PY

sub seal_job {
    my ($job) = @_;
    my %head = %$job;
    my @phi = grep { exists $head{$_} } qw(patient raw);
    delete @head{@phi};
    my $h = $JSON->encode(\%head);
    $h =~ s/\}\z// or die 'seal_job: not an object';
    my $t = join '', map { ",\"$_\":" . $JSON->encode($job->{$_}) } @phi;
    my $kid = $ENV_->{job_keys}[-1];
    my $path = job_key($kid);
    open my $kf, '<', $path or die "$path: $!";
    chomp(my $hex = <$kf>);
    my $py = "$ENV_->{dir}/seal.py";
    unless (-e $py) {
        open my $fh, '>', $py or die "$py: $!";
        print $fh $SEAL_PY;
        close $fh;
    }
    local $ENV{CS_KEY} = $hex;
    local $ENV{CS_KID} = $kid;
    my $in = "$ENV_->{dir}/seal.in";
    open my $fh, '>', $in or die "$in: $!";
    print $fh MIME::Base64::encode_base64($h, ''), "\n",
              MIME::Base64::encode_base64($t, ''), "\n";
    close $fh;
    my $out = `python3 $py < $in`;
    die "seal_job: python3 failed" if $? || $out !~ /"sealed":/;
    return $out;
}

sub job_status {
    my ($id) = @_;
    my $l = redis()->cmd('HGETALL', "{caresync}:job:$id");
    return { @{ $l // [] } };
}

# Waits until the job's status is one of @want; returns the record.
sub wait_status {
    my ($id, $want, $timeout) = @_;
    my %w = map { $_ => 1 } (ref $want ? @$want : ($want));
    my $st;
    wait_for(sub { $st = job_status($id); $st->{status} && $w{$st->{status}} },
             $timeout // 15);
    return $st;
}

# ---- the log holds no PHI ----

# The one way to check that the worker's log holds no PHI (or secret):
#
#   no_phi_in_log(name => 'enrollment', jobs => [$id, ...],
#                 files => [$stderr_log, ...], stream => $conf,
#                 pattern => qr/John|Doe|.../);
#
# A search of a missing or empty log, or of another process's, finds
# nothing and would pass; so each source is first proven to exist, not to
# be empty and to hold lines of every job named (`job_id=<id>`), and only
# then searched.  `files`: stderr logs of start_worker; `stream`: a config
# whose {prefix}:log `caresync-worker log` prints.  A match is reported by
# source and line number, never by the value.  Returns true when clean.
sub no_phi_in_log {
    my (%o) = @_;
    my $name = $o{name} // 'the log';
    my @jobs = grep { defined && length } @{ $o{jobs} // [] };
    die "no_phi_in_log: jobs => [job ids] is required\n" unless @jobs;
    die "no_phi_in_log: pattern => qr/.../ is required\n"
        unless ref $o{pattern} eq 'Regexp';

    my @src;
    for my $f (@{ $o{files} // [] }) {
        my $text;
        if (open my $fh, '<', $f) { local $/; $text = <$fh> }
        push @src, [ basename($f), $text ];
    }
    if ($o{stream}) {
        my ($rc, $out) = worker_cmd($o{stream}, 'log');
        push @src, [ 'the log stream', $rc == 0 ? $out : undef ];
    }
    die "no_phi_in_log: files => [...] or stream => \$conf is required\n"
        unless @src;

    my $proven = 1;
    for my $s (@src) {
        my ($what, $text) = @$s;
        # scalar results: this file may be compiled before Test::More's
        # prototypes are known, and a failed match is () in a list
        my $there = defined $text && length $text ? 1 : 0;
        Test::More::ok($there, "$name: $what exists and is not empty")
            or $proven = 0;
        for my $j (@jobs) {
            my $has = $there && $text =~ /\bjob_id=\Q$j\E(?:\s|$)/m ? 1 : 0;
            Test::More::ok($has, "$name: $what holds the lines of job $j")
                or $proven = 0;
        }
    }
    unless ($proven) {
        Test::More::fail("$name: no PHI (not searched: the log is not "
                         . "proven to hold the jobs' lines)");
        return 0;
    }

    my @hits;
    for my $s (@src) {
        my ($what, $text) = @$s;
        my $n = 0;
        for my $line (split /\n/, $text) {
            $n++;
            push @hits, "$what line $n" if $line =~ $o{pattern};
        }
    }
    my $ok = Test::More::ok(@hits ? 0 : 1, "$name: none of the PHI in "
                            . join(', ', map { $_->[0] } @src));
    Test::More::diag('matched (values not shown): '
                     . join(', ', grep { defined } @hits[0 .. 9]))
        if @hits;
    return $ok;
}

# ---- the console in a browser ----

# Runs a t/browser script (Debian's chromium through playwright-core) with
# %$env set, and turns each check it prints ({"ok","name","detail"} JSON
# lines) into a test; `during` runs right after the start, while the
# browser works (to start the worker at the moment the page is ready).
# Chromium or playwright-core missing is a failure: .ci/install-deps test
# installs them.  Returns the number of checks; one more test says the
# run ended with status 0 within `timeout` seconds.
sub run_browser {
    my (%o) = @_;
    my $chromium = $ENV{CHROMIUM} || '/usr/bin/chromium';
    my $pw = "$ROOT/t/browser/node_modules/playwright-core/package.json";
    unless (-x $chromium && -f $pw) {
        Test::More::fail("chromium ($chromium) and playwright-core ($pw) "
                         . 'are installed (bash .ci/install-deps test)');
        return 0;
    }
    my $log = "$ENV_->{dir}/" . basename($o{script}) . '.log';
    local @ENV{keys %{ $o{env} }} = values %{ $o{env} };
    local $ENV{CHROMIUM} = $chromium;
    local $ENV{NODE_PATH} = "$ROOT/t/browser/node_modules";
    my $node = spawn($log, 'node', "$ROOT/t/browser/$o{script}");
    $o{during}->($node) if $o{during};

    my ($status, $deadline) = (undef, time + ($o{timeout} // 120));
    while (time < $deadline) {
        if (waitpid($node, WNOHANG) == $node) { $status = $?; last }
        sleep 0.1;
    }
    unless (defined $status) { kill 'TERM', $node; waitpid($node, 0); }

    my $checks = 0;
    open my $fh, '<', $log or die "$log: $!";
    while (my $line = <$fh>) {
        my $r = eval { $JSON->decode($line) };
        unless (ref $r eq 'HASH') { Test::More::diag($line); next }
        if (defined $r->{note}) { Test::More::note($r->{note}); next }
        $checks++;
        Test::More::ok($r->{ok}, "browser: $r->{name}")
            or Test::More::diag(ref $r->{detail}
                                ? $JSON->encode($r->{detail})
                                : $r->{detail} // '');
    }
    close $fh;
    Test::More::is($status, 0, "$o{script} ended with status 0");
    return $checks;
}

1;
