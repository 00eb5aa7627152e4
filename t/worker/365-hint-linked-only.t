# A Hint patient event acts only on the contact linked to that patient
# (sync-rules.md §C.1): the one whose Hint_Patient_Id__c is the event's
# patient id exactly.  Salesforce's SOQL `=` ignores case and Hint's ids
# are mixed-case, so a contact linked to another patient whose id differs
# only in case is never written.  patient.destroyed is confirmed with Hint
# first (GET /api/provider/patients/{id}): unlinked when Hint answers 404
# or the patient is inactive; an active patient ends `skipped` with
# nothing written; Hint's transient errors are retried.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;
use Caresync::Hint;

my $env = start_env();
my @final = qw(updated created linked unlinked skipped no_match failed);
fake_post('/__fake/config', { sf_case_insensitive => JSON::PP::true });
my $conf = write_config('hint.create_contacts' => 'on');
my $pid = start_worker($conf);

sub run_job {
    my ($job) = @_;
    return wait_status(seed_job($job), \@final, 20);
}

sub writes_since {
    my ($n) = @_;
    my @all = @{ sf_requests() };
    return [ grep { $_->{method} ne 'GET' && $_->{path} !~ /oauth2/ }
             @all[$n .. $#all] ];
}

sub linked {
    my ($pat, %c) = @_;
    return { LastName => 'Linked', FirstName => 'L',
             Birthdate => '1960-01-01', Email => "old-$pat\@example.org",
             Synced_To_Hint__c => JSON::PP::true,
             Hint_Patient_Id__c => $pat, %c };
}

my @logged;

# ---- patient.updated: the contact of another patient (id in another case)
my ($pa) = @{ seed_patients(fixture_patient(id => 'pat-AbC1',
                                            email => 'abc1@hint.example')) };
my ($other) = @{ fake_post('/__fake/salesforce/contacts',
                           [ linked('pat-abc1') ]) };
my $n = scalar @{ sf_requests() };
my $job = hint_job('patient.updated', $pa);
my $st = run_job($job);
is($st->{status}, 'skipped', 'only a contact of another patient (another '
   . 'case): skipped') or diag explain $st;
like($st->{message}, qr/No CRM contact is linked to this patient/,
     '... as not linked');
is_deeply(writes_since($n), [], '... nothing written');
is(sf_contacts()->{$other}{Email}, 'old-pat-abc1@example.org',
   '... the other patient\'s contact keeps its data');
push @logged, $job->{id};

# with the patient's own contact next to it: that one only
my ($own) = @{ fake_post('/__fake/salesforce/contacts',
                         [ linked('pat-AbC1') ]) };
$job = hint_job('patient.updated', $pa);
$st = run_job($job);
is($st->{status}, 'updated', 'its own contact too: updated')
    or diag explain $st;
is($st->{crm_contact_id}, $own, '... that contact');
is(sf_contacts()->{$own}{Email}, 'abc1@hint.example', '... written');
is(sf_contacts()->{$other}{Email}, 'old-pat-abc1@example.org',
   '... the other patient\'s contact untouched');
push @logged, $job->{id};

# ---- patient.destroyed of an unknown id in another case: nothing unlinked
($other) = @{ fake_post('/__fake/salesforce/contacts',
                        [ linked('pat-ABC2') ]) };
$n = scalar @{ sf_requests() };
$st = run_job(hint_job('patient.destroyed', 'pat-abc2'));
is($st->{status}, 'no_match', 'destroyed, only another patient\'s contact '
   . '(another case): no_match') or diag explain $st;
is_deeply(writes_since($n), [], '... nothing written');
ok(sf_contacts()->{$other}{Synced_To_Hint__c},
   '... that contact stays linked');

# ---- patient.destroyed while Hint says the patient is there and active
my ($alive) = @{ seed_patients(fixture_patient(id => 'pat-Alive1')) };
my ($ca) = @{ fake_post('/__fake/salesforce/contacts',
                        [ linked('pat-Alive1') ]) };
$n = scalar @{ sf_requests() };
my $nh = scalar @{ hint_requests(method => 'GET',
                                 path => qr{/patients/pat-Alive1$}) };
$job = hint_job('patient.destroyed', $alive);
$st = run_job($job);
is($st->{status}, 'skipped', 'destroyed, but Hint has the patient active: '
   . 'skipped') or diag explain $st;
like($st->{message}, qr/Hint still has this patient.*nothing unlinked/,
     "... saying why: $st->{message}");
is($st->{hint_patient_id}, $alive, '... naming the patient');
is(scalar @{ hint_requests(method => 'GET',
                           path => qr{/patients/pat-Alive1$}) }, $nh + 1,
   '... asked Hint once');
is_deeply(writes_since($n), [], '... nothing written');
my $c = sf_contacts()->{$ca};
ok($c->{Synced_To_Hint__c}, '... still synced');
is($c->{Hint_Patient_Id__c}, $alive, '... still linked');
my ($rc, $out) = worker_cmd($conf, 'log', '--level', 'error');
my $line = "error hint skipped job_id=$job->{id} reason=patient_active "
           . "patient=$alive ";
like($out, qr/ \Q$line\E/, '... logged at error');
push @logged, $job->{id};

# a status Hint does not call inactive (pending) is not a confirmation
fake_post('/__fake/hint/patients', [ fixture_patient(
    id => 'pat-Alive1', membership_status => 'pending') ]);
$st = run_job(hint_job('patient.destroyed', $alive));
is($st->{status}, 'skipped', 'membership pending: skipped');
ok(sf_contacts()->{$ca}{Synced_To_Hint__c}, '... still linked');

# ---- inactive in Hint: unlinked
fake_post('/__fake/hint/patients', [ fixture_patient(
    id => 'pat-Alive1', membership_status => 'inactive') ]);
$job = hint_job('patient.destroyed', $alive);
$st = run_job($job);
is($st->{status}, 'unlinked', 'the patient is inactive in Hint: unlinked')
    or diag explain $st;
$c = sf_contacts()->{$ca};
ok(!$c->{Synced_To_Hint__c} && !$c->{Hint_Patient_Id__c}, '... the link '
   . 'cleared');
is($c->{LastName}, 'Linked', '... the contact stays');
push @logged, $job->{id};

# ---- gone from Hint (404), after a transient error: retried, unlinked
my ($gone) = @{ seed_patients(fixture_patient(id => 'pat-Gone1')) };
my ($cg) = @{ fake_post('/__fake/salesforce/contacts',
                        [ linked('pat-Gone1') ]) };
delete_patient($gone);
fake_post('/__fake/inject', { app => 'hint', method => 'GET',
                              path => 'patients/pat-Gone1$', times => 1,
                              status => 503, body => 'busy' });
$st = run_job(hint_job('patient.destroyed', $gone));
is($st->{status}, 'unlinked', 'Hint 503, then 404: unlinked')
    or diag explain $st;
is($st->{attempts}, 2, '... on the second attempt');
ok(!sf_contacts()->{$cg}{Synced_To_Hint__c}, '... the link cleared');

# 410 Gone is gone too
my ($gone2) = @{ seed_patients(fixture_patient(id => 'pat-Gone2')) };
my ($cg2) = @{ fake_post('/__fake/salesforce/contacts',
                         [ linked('pat-Gone2') ]) };
fake_post('/__fake/inject', { app => 'hint', method => 'GET',
                              path => 'patients/pat-Gone2$', times => 1,
                              status => 410,
                              json => { status => 410, message => 'Gone' } });
$st = run_job(hint_job('patient.destroyed', $gone2));
is($st->{status}, 'unlinked', 'Hint 410: unlinked') or diag explain $st;
ok(!sf_contacts()->{$cg2}{Synced_To_Hint__c}, '... the link cleared');

# while Hint keeps failing: nothing unlinked
my ($flaky) = @{ seed_patients(fixture_patient(id => 'pat-Flaky1')) };
my ($cf) = @{ fake_post('/__fake/salesforce/contacts',
                        [ linked('pat-Flaky1') ]) };
delete_patient($flaky);
fake_post('/__fake/inject', { app => 'hint', method => 'GET',
                              path => 'patients/pat-Flaky1$', times => -1,
                              status => 503, body => 'busy' });
$n = scalar @{ sf_requests() };
$st = run_job(hint_job('patient.destroyed', $flaky));
is($st->{status}, 'failed', 'Hint down: failed after the retries')
    or diag explain $st;
is($st->{attempts}, 3, '... all attempts used');
is_deeply(writes_since($n), [], '... nothing written');
ok(sf_contacts()->{$cf}{Synced_To_Hint__c}, '... still linked');

# ---- patient.created: an exact match holding another patient's id
my ($newp) = @{ seed_patients(fixture_patient(id => 'pat-New1',
    first_name => 'Nina', last_name => 'Held', dob => '1971-02-03')) };
my ($held) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Nina', LastName => 'Held', Birthdate => '1971-02-03',
      Hint_Patient_Id__c => 'pat-Other9' } ]) };
$n = scalar @{ sf_requests() };
$st = run_job(hint_job('patient.created', $newp));
is($st->{status}, 'skipped', 'created: the match holds another patient\'s '
   . 'id (not synced): skipped') or diag explain $st;
is_deeply(writes_since($n), [], '... nothing written');
is(sf_contacts()->{$held}{Hint_Patient_Id__c}, 'pat-Other9',
   '... its link unchanged');

# ---- hint.sync: the patient's earlier contact is unlinked, another
#      patient's (id in another case) is not
my ($sp) = @{ seed_patients(fixture_patient(id => 'pat-Sync1')) };
my ($prev, $near, $target) = @{ fake_post('/__fake/salesforce/contacts', [
    linked('pat-Sync1'), linked('pat-sync1'),
    { LastName => 'Lopez', FirstName => 'Maria', Birthdate => '1958-04-12' },
]) };
$st = run_job(action_job('hint.sync', $target, patient_id => $sp));
is($st->{status}, 'linked', 'hint.sync with a chosen patient: linked')
    or diag explain $st;
ok(!sf_contacts()->{$prev}{Synced_To_Hint__c},
   '... the patient\'s earlier contact unlinked');
is(sf_contacts()->{$near}{Hint_Patient_Id__c}, 'pat-sync1',
   '... the other patient\'s contact (another case) untouched');

is(stop_worker($pid), 0, 'worker stopped cleanly');

# ---- hint.inactive_statuses names what counts as inactive
$pid = start_worker(write_config('hint.inactive_statuses' => 'Paused, gone'));
my ($paused) = @{ seed_patients(fixture_patient(
    id => 'pat-Paused1', membership_status => 'paused')) };
my ($cp) = @{ fake_post('/__fake/salesforce/contacts',
                        [ linked('pat-Paused1') ]) };
$st = run_job(hint_job('patient.destroyed', $paused));
is($st->{status}, 'unlinked', 'a configured inactive status (any case, '
   . 'spaces): unlinked') or diag explain $st;
fake_post('/__fake/salesforce/contacts', [ { %{ sf_contacts()->{$cp} },
    Synced_To_Hint__c => JSON::PP::true, Hint_Patient_Id__c => $paused } ]);
fake_post('/__fake/hint/patients', [ fixture_patient(
    id => $paused, membership_status => 'inactive') ]);
$st = run_job(hint_job('patient.destroyed', $paused));
is($st->{status}, 'skipped', '... and the default ones no longer')
    or diag explain $st;
is(stop_worker($pid), 0, 'worker stopped cleanly');

no_phi_in_log(name => 'ids only', files => ["$env->{dir}/worker.log"],
              stream => $conf, jobs => \@logged,
              pattern => qr/Maria|Lopez|abc1\@hint|old-pat-/);

done_testing();
