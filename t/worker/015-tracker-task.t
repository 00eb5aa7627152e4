# salesforce.tracker_view_task = on: a completed Task ("Patient viewed
# tracker") on the contact when the view is recorded; none when skipped;
# a Task failure does not fail or repeat the job.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Caresync::Worker;

my $env = start_env();
my $conf = write_config('salesforce.tracker_view_task' => 'on');
my ($cid) = @{ fake_post('/__fake/salesforce/contacts',
    [{ LastName => 'T', HelpAround_Patient_Id__c => 'ha-task' }]) };
my $pid = start_worker($conf);

my $j = seed_job(user_action_job(source_id => 'ha-task',
                                 at => '2026-11-21T23:30:00Z'));
my $st = wait_status($j, [qw(updated failed)]);
is($st->{status}, 'updated', 'updated');
like($st->{message}, qr/with an activity/, '... says a Task was added');
my $tasks = fake_get('/__fake/salesforce/tasks');
is(scalar @$tasks, 1, 'one Task');
is($tasks->[0]{WhoId}, $cid, '... on the contact');
is($tasks->[0]{Status}, 'Completed', '... completed');
is($tasks->[0]{Subject}, 'Patient viewed tracker', '... subject');
is($tasks->[0]{ActivityDate}, '2026-11-21', '... dated the view (UTC)');

# the same view again: skipped, no second Task
$j = seed_job(user_action_job(source_id => 'ha-task',
                              at => '2026-11-21T23:30:00Z'));
is(wait_status($j, [qw(skipped updated failed)])->{status}, 'skipped',
   'same view: skipped');
is(scalar @{ fake_get('/__fake/salesforce/tasks') }, 1, '... no new Task');

# a Task refused: the job still ends updated, once
fake_post('/__fake/inject', { app => 'salesforce', method => 'POST',
    path => '/sobjects/Task', times => -1, status => 400,
    json => [{ message => 'no access', errorCode => 'INSUFFICIENT_ACCESS_OR_READONLY',
               fields => [] }] });
$j = seed_job(user_action_job(source_id => 'ha-task',
                              at => '2026-11-22T08:00:00Z'));
$st = wait_status($j, [qw(updated failed)]);
is($st->{status}, 'updated', 'Task refused: still updated');
is($st->{attempts}, 1, '... not retried');
like($st->{message}, qr/could not be created/, '... and says so');

is(stop_worker($pid, 'TERM'), 0, 'clean exit');
done_testing();
