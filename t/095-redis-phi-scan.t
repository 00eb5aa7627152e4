# No PHI readable anywhere Redis keeps or sends what caresync gives it:
# after traffic through the whole path (the stock nginx with the module,
# sealing with caresync_job_key -> Redis -> caresync-worker opening with
# crypto.keys -> the fake Salesforce and Hint), neither Redis's RDB file
# (SAVE), nor its append-only file (what the traffic appended, and the
# file an AOF rewrite writes, BGREWRITEAOF), nor what MONITOR showed
# during the traffic holds any fixture PHI value (Caresync::Phi).
#
# The traffic: the seed's enrollment, user action and Hint patient.updated,
# a job sealed with a key the worker does not have (a dead letter), a job
# that waits for a retry, an erasure (which opens a queued sealed job) and
# a replay.  Redis stores strings as they are
# (rdbcompression no) and rewrites the AOF as commands (aof-use-rdb-
# preamble no), so that a value in the clear would be found.
#
# The search is first shown to find what it must: the same scan, over a
# Redis given the fixtures in the clear, finds their PHI in each of the
# three; and over the real traffic it finds the jobs' ids (readable) in
# each of them.  Builds the worker (make worker) when it is not built.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha256_hex);
use File::Basename qw(dirname);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep);
use Caresync::Phi qw(phi_hits);
use Caresync::Worker;
use Caresync::Hint;

my $root = abs_path(dirname(__FILE__) . '/..');
my $fixtures = $ENV{CARESYNC_FIXTURES} // "$root/../shared/fixtures";

# the worker next to the module under test: build/ unless told
{
    delete local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES)};
    local $ENV{LD_PRELOAD};
    my $out = `cd $root && make --no-print-directory worker 2>&1`;
    plan skip_all => "make worker failed: $out" if $?;
}

sub fixture {
    my ($rel) = @_;
    open my $fh, '<', "$fixtures/$rel" or die "$fixtures/$rel: $!";
    local $/;
    return <$fh>;
}

# ---- the scan ---------------------------------------------------------

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return '';
    local $/;
    return <$fh> // '';
}

sub persistence {
    my ($r) = @_;
    my %i = map { /^(\w+):(.*?)\r?$/ ? ($1, $2) : () }
            split /\n/, $r->cmd('INFO', 'persistence');
    return \%i;
}

sub rewrite_done {
    my ($r) = @_;
    return wait_for(sub {
        my $i = persistence($r);
        ($i->{aof_rewrite_in_progress} // 1) == 0
            && ($i->{aof_rewrite_scheduled} // 1) == 0 }, 20);
}

# Redis as the scan needs it: every string stored as it is, an AOF.
sub scannable {
    my ($r) = @_;
    $r->cmd('CONFIG', 'SET', 'rdbcompression', 'no');
    $r->cmd('CONFIG', 'SET', 'aof-use-rdb-preamble', 'no');
    $r->cmd('CONFIG', 'SET', 'appendfsync', 'always');
    $r->cmd('CONFIG', 'SET', 'appendonly', 'yes');
    ok(rewrite_done($r), 'the AOF is on');
}

# MONITOR on its own connection, into a file, until stopped
sub monitor {
    my ($port, $file) = @_;
    my $pid = fork // die;
    if ($pid == 0) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port) or exit 1;
        open my $out, '>:raw', $file or exit 1;
        $out->autoflush(1);
        print $s "MONITOR\r\n";
        while (sysread($s, my $buf, 65536)) { print $out $buf }
        exit 0;
    }
    wait_for(sub { slurp($file) =~ /^\+OK/ }, 10) or die 'MONITOR did not start';
    return $pid;
}

sub stop_monitor {
    my ($pid) = @_;
    kill 'TERM', $pid;
    waitpid($pid, 0);
}

# The three places, read: the RDB after SAVE, the AOF as appended, the AOF
# after a rewrite.
sub persisted {
    my ($r, $dir) = @_;
    is($r->cmd('SAVE'), 'OK', 'SAVE');
    my %got = (rdb => slurp("$dir/dump.rdb"));
    $got{aof} = join '', map { slurp($_) } glob("$dir/appendonlydir/*");
    is($r->cmd('BGREWRITEAOF') =~ /rewriting/i ? 1 : 0, 1, 'BGREWRITEAOF');
    ok(rewrite_done($r), '... done');
    $got{rewrite} = join '', map { slurp($_) }
                    grep { /\.base\./ } glob("$dir/appendonlydir/*");
    return \%got;
}

# ---- 1. the scan finds PHI in the clear --------------------------------

my $env = start_env();
my $r = redis();
{
    my $cdir = "$env->{dir}/control";
    mkdir $cdir;
    my $cport = Caresync::Worker::free_port();
    my ($cpid, $cr) = Caresync::Worker::run_redis($cdir, $cport);
    scannable($cr);
    my $mon = monitor($cport, "$cdir/monitor.out");
    for my $f (qw(helparound/enrollment.json helparound/user-action.json
                  hint/patient.updated.json)) {
        $cr->cmd('XADD', '{control}:jobs', '*', 'job', fixture($f));
    }
    sleep 0.2;
    stop_monitor($mon);
    my $got = persisted($cr, $cdir);
    $got->{monitor} = slurp("$cdir/monitor.out");
    for my $where (qw(rdb aof rewrite monitor)) {
        ok(phi_hits($got->{$where}) > 10,
           "the scan finds PHI in the clear in the $where");
    }
    eval { $cr->cmd('SHUTDOWN', 'NOSAVE') };    # no reply: it is gone
}

# ---- 2. the whole path, sealed ---------------------------------------

scannable($r);
my $mon = monitor($env->{redis_port}, "$env->{dir}/monitor.out");

open my $kf, '>', "$env->{dir}/hint.key" or die;
print $kf "whsec-scan-key\n";
close $kf;
chmod 0600, "$env->{dir}/hint.key" or die;

my $port = start_nginx(<<"LOC", job_keys => ['s1']);
location = /webhook/user-enrollment {
            caresync_webhook helparound_enrollment; caresync_auth off; }
        location = /webhook/user-action {
            caresync_webhook helparound_user_action; caresync_auth off; }
        location = /webhook/hint {
            caresync_webhook hint;
            caresync_hmac_signature key=file:$env->{dir}/hint.key; }
LOC
plan skip_all => 'nginx or the module is not built (make module)'
    unless $port;

my $hint_body = fixture('hint/patient.updated.json');
my $hint_pid = JSON::PP->new->decode($hint_body)->{object}{id};
seed_patients(fixture_patient(id => $hint_pid));
my ($hint_cid, $retry_cid) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Old', LastName => 'Name', Synced_To_Hint__c => JSON::PP::true,
      Hint_Patient_Id__c => $hint_pid },
    { LastName => 'Retry', HelpAround_Patient_Id__c => 'ha-scan-retry' } ]) };

sub post {
    my ($path, $body, %h) = @_;
    my %before = marks();
    my $res = HTTP::Tiny->new(timeout => 10)->post(
        "http://127.0.0.1:$port$path",
        { content => $body,
          headers => { 'Content-Type' => 'application/json', %h } });
    is($res->{status}, 200, "POST $path: 200") or diag $res->{content};
    # the job's id is its new dedupe mark's value: a running worker may
    # have taken the entry out of the stream already
    my %after = marks();
    my @new = grep { !exists $before{$_} } keys %after;
    is(scalar @new, 1, "POST $path: one new dedupe mark");
    return $after{$new[0] // ''};
}

# the edge's dedupe marks and the job ids they hold
sub marks {
    my $keys = redis()->cmd('KEYS', '{caresync}:dedupe:*') // [];
    return () unless @$keys;
    my $ids = redis()->cmd('MGET', @$keys);
    return map { $keys->[$_] => $ids->[$_] } 0 .. $#$keys;
}

# the worker starts after the first jobs: they are in the stream a while
my @ids;
push @ids, post('/webhook/user-enrollment', fixture('helparound/enrollment.json'));
push @ids, post('/webhook/hint', $hint_body, 'X-Hint-Signature' => 'sha256='
                . hmac_sha256_hex($hint_body, 'whsec-scan-key'));

my $conf = write_config(
    'helparound.media_url_template' => "$env->{fake}/helparound/media/{id}",
    'helparound.api_key' => 'fake-ha-key',
    'worker.backoff_base_ms' => 1500, 'worker.backoff_max_ms' => 1500);
my $wpid = start_worker($conf);
is(wait_status($ids[0], [qw(created updated failed)])->{status}, 'created',
   'the enrollment: created');
is(wait_status($ids[1], [qw(updated failed no_match)])->{status}, 'updated',
   'the Hint event: updated');

# the user action of the enrolled patient (the fixture's)
push @ids, post('/webhook/user-action', fixture('helparound/user-action.json'));
is(wait_status($ids[2], [qw(updated failed skipped)])->{status}, 'updated',
   'the user action: updated');

# a retry: the CRM busy once
fake_post('/__fake/inject', [
    { app => 'salesforce', path => '/query.*ha-scan-retry\b', times => 1,
      status => 503, body => 'unavailable' } ]);
my $ua = JSON::PP->new->decode(fixture('helparound/user-action.json'));
$ua->{event}{patient}{id} = 'ha-scan-retry';
push @ids, post('/webhook/user-action', JSON::PP->new->encode($ua));
# (its retrying state is short: the attempts say it was there)
my $st3 = wait_status($ids[3], [qw(updated failed)], 20);
is($st3->{status}, 'updated', 'a job that waited for a retry is synced');
is($st3->{attempts}, 2, '... on its second attempt');

# a job sealed with a key the worker does not have: a dead letter
is(stop_worker($wpid, 'TERM'), 0, 'worker stopped');
my $lost = write_config('crypto.keys' => worker_keys('s0'));
$ua->{event}{patient}{id} = 'ha-scan-dead';
push @ids, post('/webhook/user-action', JSON::PP->new->encode($ua));
$wpid = start_worker($lost);
is(wait_status($ids[4], [qw(updated failed)])->{status}, 'failed',
   'a job sealed with another key: failed, dead-lettered');
is(stop_worker($wpid, 'TERM'), 0, 'worker exits cleanly');
ok(scalar @{ $r->cmd('XRANGE', '{caresync}:dead', '-', '+') },
   'the dead-letter queue holds it');

# operators over sealed jobs: an erasure, which opens the queued job to
# find its patient, and a replay, which queues a sealed job again
$ua->{event}{patient}{id} = 'ha-scan-erase';
my $erased = post('/webhook/user-action', JSON::PP->new->encode($ua));
my ($rc, $out, $err) = worker_cmd($conf, 'erase', '--patient',
                                  'ha-scan-erase');
is($rc, 0, 'erase of a patient whose job is queued, sealed') or diag $err;
like($out, qr/^removed queued 1$/m, '... found by opening it');
($rc, $out, $err) = worker_cmd($conf, 'replay', '--since', '1h', '--type',
                               'helparound.enrollment');
is($rc, 0, 'a replay of the enrollment') or diag $err;
like($out, qr/\Q$ids[0]\E/, '... names it');
$wpid = start_worker($conf);
my $rst = wait_status($ids[0], [qw(created updated skipped failed)]);
is("$rst->{status} $rst->{replays}", 'skipped 1',
   '... it ran again, and wrote nothing');
is(stop_worker($wpid, 'TERM'), 0, 'worker exits cleanly');

sleep 0.2;
stop_monitor($mon);
my $got = persisted($r, $env->{dir});
$got->{monitor} = slurp("$env->{dir}/monitor.out");

for my $where (qw(rdb aof rewrite monitor)) {
    my $text = $got->{$where};
    # proof that this is the traffic's: every job id is there
    is(scalar(grep { index($text, $_) >= 0 } @ids), scalar @ids,
       "the $where holds the ids of the " . @ids . ' jobs');
    # (MONITOR escapes the quotes)
    like($text, qr/\\?"sealed\\?":\{\\?"kid\\?":\\?"s1/,
         "... and their sealed parts");
    is(phi_hits($text), 0, "no fixture PHI value in the $where");
}

done_testing();
