# Redis goes away under a running worker and comes back empty: the worker
# neither exits nor spins, logs the outage once, reconnects by itself,
# recreates the consumer group, and goes on with new jobs.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use Caresync::Worker;

my $env = start_env();
my $conf = write_config();
fake_post('/__fake/salesforce/contacts', [
    { LastName => 'A', HelpAround_Patient_Id__c => 'ha-a' },
    { LastName => 'B', HelpAround_Patient_Id__c => 'ha-b' } ]);

my ($pid, $log) = start_worker($conf);
my $j = seed_job(user_action_job(source_id => 'ha-a'));
is(wait_status($j, 'updated')->{status}, 'updated', 'first job done');

kill_redis();
sleep 2;
ok(kill(0, $pid), 'the worker keeps running without Redis');
open my $ps, '<', "/proc/$pid/stat" or die;
my @f = split ' ', (<$ps> =~ s/^.*\) //r);
ok($f[11] + $f[12] < 100, "... without spinning (cpu ticks: @{[ $f[11] + $f[12] ]})");

restart_redis();
$j = seed_job(user_action_job(source_id => 'ha-b'));
my $st = wait_status($j, [qw(updated failed)], 15);
is($st->{status}, 'updated', 'after Redis is back: next job done');

my $all = do { local $/; open my $fh, '<', $log; <$fh> };
my $down = () = $all =~ /error redis cannot connect/g;
ok($down >= 1 && $down <= 2, "outage logged once, not per retry ($down)");
like($all, qr/error redis reconnected/, 'reconnection logged');

is(stop_worker($pid, 'TERM'), 0, 'clean exit');

# a worker started before Redis waits for it
kill_redis();
($pid, $log) = start_worker($conf, 'early');
sleep 1.5;
ok(kill(0, $pid), 'started without Redis: waits instead of exiting');
restart_redis();
$j = seed_job(user_action_job(source_id => 'ha-a',
                              at => '2026-11-21T11:11:11Z'));
is(wait_status($j, [qw(updated failed)], 15)->{status}, 'updated',
   '... and works once Redis is up');
$all = do { local $/; open my $fh, '<', $log; <$fh> };
like($all, qr/waiting for Redis: cannot connect/, '... having said why it waited');
is(stop_worker($pid, 'TERM'), 0, 'clean exit');

# Redis forgets the worker's scripts (SCRIPT FLUSH, a failover to a
# replica that never saw them): the worker sends them again, jobs go on
($pid, $log) = start_worker($conf, 'flushed');
$j = seed_job(user_action_job(source_id => 'ha-a',
                              at => '2026-11-21T12:00:00Z'));
is(wait_status($j, [qw(updated failed)], 15)->{status}, 'updated',
   'a job before SCRIPT FLUSH');
is(redis()->cmd('SCRIPT', 'FLUSH'), 'OK', 'SCRIPT FLUSH');
for my $n (1 .. 3) {
    $j = seed_job(user_action_job(source_id => 'ha-b',
                                  at => "2026-11-21T12:0$n:00Z"));
    is(wait_status($j, [qw(updated skipped failed)], 20)->{status},
       'updated', "after it, job $n still ends");
}
is(stop_worker($pid, 'TERM'), 0, 'clean exit');

# Redis that answers but refuses (a password it does not expect): not
# worth waiting for, the worker says why and exits 1
my $bad = write_config('redis.password' => 'not-the-password');
($pid, $log) = start_worker($bad, 'refused');
my $gone = Caresync::Worker::wait_for(sub {
    waitpid($pid, POSIX::WNOHANG()) == $pid }, 10);
my $code = $? >> 8;
ok($gone, 'Redis refusing AUTH: the worker does not wait');
is($code, 1, '... and exits 1');
$all = do { local $/; open my $fh, '<', $log; <$fh> };
like($all, qr/exception worker Redis AUTH failed/, '... saying why');
unlike($all, qr/waiting for Redis/, '... not as an outage');

done_testing();
