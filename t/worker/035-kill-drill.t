# The SIGKILL drill of spec/bars.md: a worker killed mid-run; every job
# still reaches a final status, and no contact is written twice.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep);
use Caresync::Worker;

my $N = 120;
my $env = start_env();
my %o = ('worker.claim_idle_ms' => 1000, 'worker.reclaim_interval_ms' => 200,
         'worker.concurrency' => 12);
fake_post('/__fake/config', { latency_ms => 60 });
fake_post('/__fake/salesforce/contacts', [
    map { { LastName => "D$_", HelpAround_Patient_Id__c => "ha-drill$_" } }
    1 .. $N ]);
my @ids = map { seed_job(user_action_job(source_id => "ha-drill$_")) } 1 .. $N;

my $a = start_worker(write_config(%o, 'worker.consumer' => 'drill-a'), 'drill-a');
my $b = start_worker(write_config(%o, 'worker.consumer' => 'drill-b'), 'drill-b');

# kill A once a third of the jobs are done, with its slots full
ok(wait_for(sub { grep({ (job_status($_)->{status} // '') eq 'updated' } @ids)
                  >= $N / 3 }, 30), 'a third done');
kill 'KILL', $a;
waitpid($a, 0);
my $p = redis()->cmd('XPENDING', '{caresync}:jobs', 'workers');
my ($orphans) = map { $_->[1] } grep { $_->[0] eq 'drill-a' } @{ $p->[3] // [] };
diag("jobs pending on the killed worker: " . ($orphans // 0));

my %final = map { $_ => 1 } qw(updated skipped);
ok(wait_for(sub { !grep { !$final{ job_status($_)->{status} // '' } } @ids }, 40),
   'every job reached a final status');
my %by;
$by{ job_status($_)->{status} }++ for @ids;
is(($by{updated} // 0) + ($by{skipped} // 0), $N, 'all updated or skipped')
    or diag explain \%by;

my %writes;
$writes{ $_->{path} }++ for @{ sf_requests(method => 'PATCH') };
is(scalar keys %writes, $N, 'every contact written');
is(scalar(grep { $_ > 1 } values %writes), 0, 'none written twice');
my $c = sf_contacts();
is(scalar(grep { $_->{Last_Tracker_View_At__c} } values %$c), $N,
   'every contact has its time');
$p = redis()->cmd('XPENDING', '{caresync}:jobs', 'workers');
is($p->[0], 0, 'nothing left pending');
is(redis()->cmd('XLEN', '{caresync}:dead'), 0, 'nothing dead-lettered');
is(stop_worker($b, 'TERM'), 0, 'the survivor exits cleanly');

done_testing();
