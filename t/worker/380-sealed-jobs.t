# Sealed jobs through the edge and the worker (cw_crypto.h, cs_seal.h):
# the module seals each job's PHI under the last caresync_job_key, the
# worker opens it with crypto.keys.  Rotation without downtime (a key
# added, nginx reloaded: new jobs use it, old ones still open), a job
# sealed with a key the worker no longer has (dead-lettered, counted by
# `crypto status`, opened once the key is back and replayed), tampered
# jobs (refused, nothing written, the bytes kept), a retry that waits
# sealed, and PHI in the clear refused once keys are configured.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Caresync::Phi qw(phi_hits);
use Caresync::Worker;

my $J = JSON::PP->new->canonical;
my $env = start_env();
my $loc = 'location = /webhook/user-action { caresync_webhook '
        . 'helparound_user_action; caresync_auth off; }';
my $port = start_nginx($loc, job_keys => ['k0'], master => 1);
plan skip_all => 'nginx or the module is not built (make module)'
    unless $port;
my $ndir = "$env->{dir}/nginx";

# one contact per event, so that no job supersedes another
my @cids = @{ fake_post('/__fake/salesforce/contacts', [
    map { { LastName => "Sealed$_", HelpAround_Patient_Id__c => "ha-cr-$_" } }
    1 .. 8 ]) };

my $path = ($ENV{CARESYNC_FIXTURES}
            // Caresync::Worker::root() . '/../shared/fixtures')
           . '/helparound/user-action.json';
my $fixture = do { local $/; open my $fh, '<', $path or die "$path: $!"; <$fh> };

# The user action of patient ha-cr-N, through the edge; the job's bytes.
sub post_action {
    my ($n) = @_;
    my $b = $J->decode($fixture);
    $b->{event}{patient}{id} = "ha-cr-$n";
    $b->{event}{sendDate} = sprintf '2021-08-23T08:45:%02d.000Z', $n;
    my $before = { map { $_ => 1 } stream_ids() };
    my $res = HTTP::Tiny->new(timeout => 10)->post(
        "http://127.0.0.1:$port/webhook/user-action",
        { content => $J->encode($b),
          headers => { 'Content-Type' => 'application/json' } });
    is($res->{status}, 200, "action $n accepted") or diag $res->{content};
    my $entries = redis()->cmd('XRANGE', '{caresync}:jobs', '-', '+');
    for my $e (@$entries) {
        next if $before->{ $e->[0] };
        my %f = @{ $e->[1] };
        return $f{job};
    }
    return '';
}

sub stream_ids {
    map { $_->[0] } @{ redis()->cmd('XRANGE', '{caresync}:jobs', '-', '+') };
}

sub head_of { my ($raw) = @_; my $h = $J->decode($raw); $h }

sub kid_of {
    my ($raw) = @_;
    return ($raw =~ /,"sealed":\{"kid":"([^"]+)","iv":"/)[0] // '';
}

# nginx's key lines replaced, then a reload (SIGHUP), waited for
sub reload_with_keys {
    my (@ids) = @_;
    my $conf = do { local $/; open my $fh, '<', "$ndir/nginx.conf" or die;
                    <$fh> };
    my $lines = join "\n    ", map {
        "caresync_job_key $_ file:" . job_key($_) . ';' } @ids;
    $conf =~ s/^(\s*caresync_job_key .*\n)+/    $lines\n/m or die;
    open my $fh, '>', "$ndir/nginx.conf" or die;
    print $fh $conf;
    close $fh;
    # done when the old worker process has exited: only new ones serve
    my $exits = sub {
        my $n = () = do { local $/; open my $l, '<', "$ndir/logs/error.log";
                          <$l> // '' } =~ /worker process \d+ exited/g;
        $n };
    my $count = $exits->();
    open my $pf, '<', "$ndir/logs/nginx.pid" or die;
    chomp(my $npid = <$pf>);
    kill 'HUP', $npid;
    ok(wait_for(sub { $exits->() > $count }, 15),
       "nginx reloaded with keys @ids");
}

sub dead_entries {
    my %d;
    for my $e (@{ redis()->cmd('XRANGE', '{caresync}:dead', '-', '+') }) {
        my %f = @{ $e->[1] };
        $d{ $f{job_id} } = { %f, stream_id => $e->[0] };
    }
    return \%d;
}

sub crypto_status {
    my ($conf) = @_;
    my ($rc, $out, $err) = worker_cmd($conf, 'crypto', 'status');
    is($rc, 0, 'crypto status exits 0') or diag $err;
    my %by;
    for (split /\n/, $out) {
        my ($kid, $state, $total, $jobs, $retry, $parked, $dead, $arch)
            = split ' ';
        next if $kid eq 'key';
        $by{$kid} = { state => $state, total => $total, jobs => $jobs,
                      retry => $retry, parked => $parked, dead => $dead,
                      archive => $arch };
    }
    return \%by;
}

# ---- 1. the edge seals under its last key ----
my $raw1 = post_action(1);
my $h1 = head_of($raw1);
like($raw1, qr/,"sealed":\{"kid":"k0","iv":"[A-Za-z0-9+\/]{16}","ct":"[A-Za-z0-9+\/]+=*"\}\}\z/,
     'the job ends with the sealed member, key k0');
ok(!exists $h1->{patient} && !exists $h1->{raw}, '... no patient, no raw');
is($h1->{type}, 'helparound.user_action', '... the type is readable');
like($h1->{id}, qr/^[0-9A-Z]{26}$/, '... so is the id');
like($h1->{idempotency_key}, qr/^[0-9a-f]{64}$/, '... and the idempotency key');
is($h1->{action}{user_action}, 'viewedTracker', '... and the action');
ok(phi_hits($fixture) > 0, 'the PHI search finds the fixture\'s PHI');
is(phi_hits($raw1), 0, '... and none in the queued job');

# ---- 2. rotation: a key added, nginx reloaded ----
reload_with_keys('k0', 'k1');
my $raw2 = post_action(2);
is(kid_of($raw2), 'k1', 'after the reload new jobs are sealed with k1');
my $h2 = head_of($raw2);

my $both = write_config('crypto.keys' => worker_keys('k0', 'k1'));
my $only1 = write_config('crypto.keys' => worker_keys('k1'));
my $cs = crypto_status($both);
is($cs->{k0}{total}, 1, 'crypto status: k0 protects one job');
is($cs->{k0}{jobs}, 1, '... in the stream');
is($cs->{k0}{state}, 'ring', '... and is in the ring');
is($cs->{k1}{total}, 1, 'k1 one job');
is($cs->{k1}{state}, 'current', '... and seals');

# ---- 3. the worker without k0: its job is dead-lettered, not lost ----
my ($pid, $log) = start_worker($only1);
my $st2 = wait_status($h2->{id}, [qw(updated failed skipped)]);
is($st2->{status}, 'updated', 'the k1 job is opened and synced');
my $st1 = wait_status($h1->{id}, [qw(updated failed skipped)]);
is($st1->{status}, 'failed', 'the k0 job fails');
like($st1->{last_error}, qr/sealed with key id `k0`, which is not in crypto\.keys: add that key back, then replay/,
     '... saying which key is missing');
my $dead = dead_entries();
ok($dead->{ $h1->{id} }, '... and is in the dead-letter queue');
is($dead->{ $h1->{id} }{job}, $raw1, '... sealed, the bytes as queued');
like($dead->{ $h1->{id} }{error}, qr/key id `k0`/, '... with the error');
is(sf_contacts()->{ $cids[0] }{Last_Tracker_View_At__c}, undef,
   'nothing was written for it');
is(sf_contacts()->{ $cids[1] }{Last_Tracker_View_At__c},
   '2021-08-23T08:45:02.000+0000', 'the k1 job was written');
is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');

$cs = crypto_status($only1);
is($cs->{k0}{state}, 'MISSING', 'crypto status: k0 is missing');
is($cs->{k0}{dead}, 1, '... and protects the dead letter');
is($cs->{k1}{total} - $cs->{k1}{archive}, 0,
   'k1 protects nothing left but what the archive keeps');
is($cs->{k1}{archive}, 1, '... its job, processed, in the archive');

# the key back, the dead letter replayed
my $rc = (worker_cmd($both, 'dlq', 'replay', $h1->{id}))[0];
is($rc, 0, 'dlq replay');
($pid, $log) = start_worker($both);
$st1 = wait_status($h1->{id}, [qw(updated)]);
is($st1->{status}, 'updated', 'with k0 back the replayed job is synced');
is(sf_contacts()->{ $cids[0] }{Last_Tracker_View_At__c},
   '2021-08-23T08:45:01.000+0000', '... on its contact');
$cs = crypto_status($both);
is($cs->{k0}{total} - $cs->{k0}{archive}, 0,
   'crypto status: k0 protects nothing in the queue or the dead letters');
is($cs->{k0}{archive}, 1, '... and its job in the archive, sealed: '
   . 'the key can go once that is pruned');

# ---- 4. tampered jobs: refused, nothing written, kept ----
reload_with_keys('k1');
is(stop_worker($pid, 'TERM'), 0, 'worker stopped');
my $raw3 = post_action(3);
my $h3 = head_of($raw3);
redis()->cmd('DEL', '{caresync}:jobs');     # the original, gone
my $flip = $raw3;
$flip =~ s/("ct":")(.)/$1 . ($2 eq 'A' ? 'B' : 'A')/e;
my $moved = $raw3;
my $id3b = substr($h3->{id}, 0, 25) . (substr($h3->{id}, 25) eq 'Z' ? 'Y' : 'Z');
$moved =~ s/"id":"\Q$h3->{id}\E"/"id":"$id3b"/;
redis()->cmd('XADD', '{caresync}:jobs', '*', 'job', $flip);
redis()->cmd('XADD', '{caresync}:jobs', '*', 'job', $moved);
my $patches = grep { ($_->{method} // '') eq 'PATCH' } @{ sf_requests() };

($pid, $log) = start_worker($both);
for ([$h3->{id}, $flip, 'a ciphertext byte changed'],
     [$id3b, $moved, 'the sealed part moved to another job id'])
{
    my ($id, $bytes, $what) = @$_;
    my $st = wait_status($id, [qw(updated failed skipped)]);
    is($st->{status}, 'failed', "$what: refused");
    like($st->{last_error}, qr/the job sealed with key id `k1` does not authenticate/,
         '... saying so, with the key id');
    is(dead_entries()->{$id}{job}, $bytes, '... the bytes kept in the DLQ');
}
my $raw4 = post_action(4);
my $st4 = wait_status(head_of($raw4)->{id}, [qw(updated failed)]);
is($st4->{status}, 'updated', 'the worker goes on with the next job');
is(scalar(grep { ($_->{method} // '') eq 'PATCH' } @{ sf_requests() }),
   $patches + 1, 'the refused jobs wrote nothing');
is(sf_contacts()->{ $cids[2] }{Last_Tracker_View_At__c}, undef,
   '... to their contact');

# ---- 5. a retry waits sealed ----
fake_post('/__fake/inject', [
    { app => 'salesforce', path => '/query.*ha-cr-5\b', times => 1,
      status => 503, body => 'unavailable' } ]);
is(stop_worker($pid, 'TERM'), 0, 'worker stopped');
my $slow = write_config('crypto.keys' => worker_keys('k0', 'k1'),
                        'worker.backoff_base_ms' => 6000,
                        'worker.backoff_max_ms' => 6000);
($pid, $log) = start_worker($slow);
my $raw5 = post_action(5);
my $h5 = head_of($raw5);
my $st5 = wait_status($h5->{id}, [qw(retrying updated failed)]);
is($st5->{status}, 'retrying', 'a transient failure: retrying');
my $members = redis()->cmd('ZRANGE', '{caresync}:retry', 0, -1);
my ($m5) = grep { index($_, $h5->{id}) >= 0 } @$members;
ok($m5, 'the job waits in the retry set');
like($m5 // '', qr/\t\Q$raw5\E\z/, '... as it was queued, sealed');
is(phi_hits($m5 // ''), 0, '... with no PHI readable');
$cs = crypto_status($both);
is($cs->{k1}{retry}, 1, 'crypto status counts it under retry');
$st5 = wait_status($h5->{id}, [qw(updated failed)], 20);
is($st5->{status}, 'updated', 'the retry is synced');
is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');

# ---- 6. PHI in the clear is refused once keys are configured ----
my $clear = seed_job(user_action_job(source_id => 'ha-cr-6'), clear => 1);
($pid, $log) = start_worker($both);
my $st6 = wait_status($clear, [qw(updated failed)]);
is($st6->{status}, 'failed', 'a job with PHI in the clear is refused');
like($st6->{last_error}, qr/carries PHI in the clear, and crypto\.keys is configured/,
     '... saying why');
is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');
my $lenient = write_config('crypto.keys' => worker_keys('k1'),
                           'crypto.allow_clear' => 'on');
my $clear2 = seed_job(user_action_job(source_id => 'ha-cr-7'), clear => 1);
($pid, $log) = start_worker($lenient);
is(wait_status($clear2, [qw(updated failed)])->{status}, 'updated',
   'crypto.allow_clear = on lets it through');
is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');

# nothing the worker wrote back to Redis holds PHI: statuses, dead
# letters, the log
my @values;
for my $k (@{ redis()->cmd('KEYS', '{caresync}:*') }) {
    next if $k eq '{caresync}:jobs';
    my $t = redis()->cmd('TYPE', $k);
    push @values, @{ redis()->cmd('HGETALL', $k) } if $t eq 'hash';
    push @values, map { @{ $_->[1] } }
                  @{ redis()->cmd('XRANGE', $k, '-', '+') } if $t eq 'stream';
}
ok(scalar(grep { index($_, $h1->{id}) >= 0 } @values),
   'the search reads the records of the jobs above');
# the two clear jobs seeded on purpose hold PHI; the rest must not
my @rest = grep { index($_, '"patient":') < 0 } @values;
is(phi_hits(join "\n", @rest), 0, 'no PHI in status records, dead letters, the log');

# the keys' hex never reaches the worker's or nginx's logs
my $logs = join '', map { local $/; open my $fh, '<', $_ or next; <$fh> }
           glob("$env->{dir}/*.log $ndir/logs/*.log");
for my $id (qw(k0 k1)) {
    my $hex = do { local $/; open my $fh, '<', job_key($id) or die; <$fh> };
    chomp $hex;
    ok(index($logs, $hex) < 0, "key $id is in no log");
}

done_testing();
