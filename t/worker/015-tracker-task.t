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

# each write in the audit trail: the job, the target, the record, the
# names of the fields written, never their values
sub writes_of {
    my ($job) = @_;
    return { map { my %f = @{ $_->[1] }; ("$f{target}" => \%f) }
             grep { my %f = @{ $_->[1] }; $f{kind} eq 'write'
                                           && $f{job} eq $job }
             @{ redis()->cmd('XRANGE', '{caresync}:audit', '-', '+') } };
}
my $w;
ok(wait_for(sub { $w = writes_of($j); keys %$w == 2 }, 5),
   'the contact\'s update and the Task are audited') or diag explain $w;
is($w->{'salesforce/Task'}{record}, $tasks->[0]{Id}, '... the Task by its id');
like($w->{'salesforce/Task'}{fields}, qr/(^|,)Subject(,|$)/,
     '... with the names of its fields');
like($w->{'salesforce/Task'}{fields}, qr/(^|,)WhoId(,|$)/, '... every one');
is($w->{'salesforce/Contact'}{record}, $cid, '... the contact by its id');
unlike(join(' ', map { values %$_ } values %$w),
       qr/Patient viewed tracker|Completed|2026-11-21/,
       '... and no value written');

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
ok(wait_for(sub { writes_of($j)->{'salesforce/Contact'} }, 5),
   '... its contact update audited');
ok(!writes_of($j)->{'salesforce/Task'}, '... the refused Task not');

is(stop_worker($pid, 'TERM'), 0, 'clean exit');
done_testing();
