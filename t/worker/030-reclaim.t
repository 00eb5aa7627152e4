# A worker killed mid-job: its job is reclaimed (XAUTOCLAIM) by another
# and finished once.  A slow job is not stolen from a live worker.
# SIGTERM drains in-flight jobs; past the deadline they stay pending.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use Caresync::Worker;

my $env = start_env();
my %o = ('worker.claim_idle_ms' => 1000, 'worker.reclaim_interval_ms' => 200);
my $confA = write_config(%o, 'worker.consumer' => 'worker-a');
my $confB = write_config(%o, 'worker.consumer' => 'worker-b');

my ($cid) = @{ fake_post('/__fake/salesforce/contacts',
    [{ LastName => 'K', HelpAround_Patient_Id__c => 'ha-kill' }]) };
fake_post('/__fake/salesforce/contacts', [
    map { { LastName => "S$_", HelpAround_Patient_Id__c => "ha-slow$_" } }
    1 .. 3 ]);

# ---- SIGKILL mid-job ----
fake_post('/__fake/inject', { app => 'salesforce', path => '/query.*ha-kill',
                              times => 1, latency_ms => 2500, status => 200,
                              json => { totalSize => 0, done => \1,
                                        records => [] } });
my $a = start_worker($confA, 'worker-a');
my $job = seed_job(user_action_job(source_id => 'ha-kill'));

ok(wait_for(sub { grep { $_->{query} =~ /ha-kill/ }
                  @{ sf_requests(path => qr{/query$}) } }, 10),
   'worker A is mid-job (query in flight)');
my $p = redis()->cmd('XPENDING', '{caresync}:jobs', 'workers');
is($p->[3][0][0], 'worker-a', 'the entry is pending on worker A');

kill 'KILL', $a;
waitpid($a, 0);
is(job_status($job)->{status}, 'running', 'A died with the job running');

my $b = start_worker($confB, 'worker-b');
my $st = wait_status($job, [qw(updated failed no_match)], 15);
is($st->{status}, 'updated', 'worker B reclaimed and finished it');
is($st->{attempts}, 2, '... as the second attempt');
is($st->{crm_contact_id}, $cid, '... on the right contact');
is(scalar(grep { $_->{path} =~ /$cid$/ } @{ sf_requests(method => 'PATCH') }),
   1, 'written once');
$p = redis()->cmd('XPENDING', '{caresync}:jobs', 'workers');
is($p->[0], 0, 'nothing left pending');

# ---- a slow job on a live worker is not stolen ----
my $a2 = start_worker($confA, 'worker-a2');
sleep 0.3;
stop_worker($b, 'TERM');
fake_post('/__fake/inject', { app => 'salesforce', path => '/query.*ha-slow1',
                              times => 1, latency_ms => 2200 });
$job = seed_job(user_action_job(source_id => 'ha-slow1'));
ok(wait_for(sub { grep { $_->{query} =~ /ha-slow1/ }
                  @{ sf_requests(path => qr{/query$}) } }, 10),
   'slow job in flight on A');
$b = start_worker($confB, 'worker-b2');
$st = wait_status($job, [qw(updated failed)], 15);
is($st->{status}, 'updated', 'slow job finished');
is($st->{attempts}, 1, '... by A alone: the heartbeat kept B away');

# ---- SIGTERM drains ----
stop_worker($b, 'TERM');
fake_post('/__fake/inject', { app => 'salesforce', path => '/query.*ha-slow2',
                              times => 1, latency_ms => 1000 });
$job = seed_job(user_action_job(source_id => 'ha-slow2'));
ok(wait_for(sub { grep { $_->{query} =~ /ha-slow2/ }
                  @{ sf_requests(path => qr{/query$}) } }, 10),
   'job in flight');
kill 'TERM', $a2;
sleep 0.2;
my $late = seed_job(user_action_job(source_id => 'ha-slow3'));
my $t0 = time;
is(stop_worker($a2, 'TERM', 10), 0, 'SIGTERM: exit 0');
is(job_status($job)->{status}, 'updated', 'in-flight job finished first');
is(job_status($late)->{status}, undef, 'no job taken after SIGTERM');
is(redis()->cmd('XLEN', '{caresync}:jobs'), 1, 'the late job waits in the stream');

# ---- past the deadline: left pending, reclaimed later ----
my $confD = write_config(%o, 'worker.consumer' => 'worker-d',
                         'worker.shutdown_deadline_ms' => 300);
fake_post('/__fake/inject', { app => 'salesforce', path => '/query.*ha-slow3',
                              times => 1, latency_ms => 2500 });
my $d = start_worker($confD, 'worker-d');
ok(wait_for(sub { grep { $_->{query} =~ /ha-slow3/ }
                  @{ sf_requests(path => qr{/query$}) } }, 10),
   'late job in flight on D');
$t0 = time;
is(stop_worker($d, 'TERM', 10), 0, 'SIGTERM with a short deadline: exit 0');
ok(time - $t0 < 2, sprintf('... within the deadline (%.2fs)', time - $t0));
is(job_status($late)->{status}, 'running', 'unfinished job not acknowledged');
$p = redis()->cmd('XPENDING', '{caresync}:jobs', 'workers');
is($p->[0], 1, '... still pending');

$b = start_worker($confB, 'worker-b3');
$st = wait_status($late, [qw(updated failed)], 15);
is($st->{status}, 'updated', 'another worker finished it');
stop_worker($b, 'TERM');

done_testing();
