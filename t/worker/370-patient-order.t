# Jobs about one patient never run at the same time, across workers, and
# run in the order queued (docs/worker.md "One patient at a time").
#
# Two workers: A with one slot, B with eight.  The fake Salesforce holds
# A's write for 3 s (longer than worker.claim_idle_ms, 1.5 s: the patient's
# key must be kept alive while its job runs); a second job about the same
# patient, queued meanwhile, goes to B.  Without the patient's turn B reads
# the state before A's write lands and A's older write lands last.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Caresync::Worker;
use Caresync::Hint;

my $env = start_env();
my $conf_a = write_config('worker.concurrency' => 1);
my $conf_b = write_config('worker.concurrency' => 8);
my @final = qw(updated created linked unlinked skipped no_match failed);
my $HOLD_MS = 3000;

my ($pid_a, $log_a) = start_worker($conf_a, 'a');

sub email_of_contact { sf_contacts()->{$_[0]}{Email} // '' }

# A's contact write is held; returns once the fake has it (in flight)
sub hold_patch {
    my ($cid, $body) = @_;
    fake_post('/__fake/inject', { app => 'salesforce', method => 'PATCH',
                                  path => "/sobjects/Contact/$cid\$",
                                  match_body => $body,
                                  latency_ms => $HOLD_MS, times => 1 });
}

sub patch_arrived {
    my ($cid, $body) = @_;
    return wait_for(sub {
        grep { $_->{body} =~ /\Q$body\E/ }
            @{ sf_requests(method => 'PATCH', path => qr/\Q$cid\E$/) } }, 15);
}

my $pid_b;
sub start_b { ($pid_b) = start_worker($conf_b, 'b') unless $pid_b }

# ---- 1. two patient.updated events of one Hint patient -------------------
my ($p1) = @{ seed_patients(fixture_patient(id => 'pat-order1',
                                            email => 'first@example.org')) };
my ($c1) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Maria', LastName => 'Lopez', Birthdate => '1958-04-12',
      Email => 'old@example.org', Synced_To_Hint__c => JSON::PP::true,
      Hint_Patient_Id__c => $p1 } ]) };

hold_patch($c1, 'first@example.org');
my $j1 = seed_job(hint_job('patient.updated', $p1));
ok(patch_arrived($c1, 'first@example.org'),
   'job 1 (A) is writing the contact: its write is held');

# the patient changes again in Hint, and Hint says so
seed_patients(fixture_patient(id => $p1, email => 'second@example.org'));
start_b();
my $j2 = seed_job(hint_job('patient.updated', $p1));

my $st2 = wait_status($j2, ['queued', @final], 10);
is($st2->{status}, 'queued', 'job 2 waits while job 1 holds the patient')
    or diag explain $st2;
like($st2->{message} // '', qr/earlier job about the same patient/,
     '... and its record says why');

my $st1 = wait_status($j1, \@final, 15);
is($st1->{status}, 'updated', 'job 1 ends: updated');
$st2 = wait_status($j2, \@final, 15);
is($st2->{status}, 'updated', 'then job 2 runs: updated') or diag explain $st2;
is(email_of_contact($c1), 'second@example.org',
   'the contact ends with the newer patient data (the older write did not '
   . 'land last)');
is($st2->{attempts}, 1, 'waiting is not an attempt');

# ---- 2. patient.updated and crm.contact_changed of one linked pair -------
my ($p2) = @{ seed_patients(fixture_patient(id => 'pat-order2',
                                            email => 'hint.new@example.org')) };
my ($c2) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Maria', LastName => 'Lopez', Birthdate => '1958-04-12',
      Email => 'crm.old@example.org', Synced_To_Hint__c => JSON::PP::true,
      Hint_Patient_Id__c => $p2 } ]) };

hold_patch($c2, 'hint.new@example.org');
my $j3 = seed_job(hint_job('patient.updated', $p2));
ok(patch_arrived($c2, 'hint.new@example.org'),
   'patient.updated (A) is writing the contact: held');
# the CRM reports its contact changed (the edit that the held write is)
my $j4 = seed_job(action_job('crm.contact_changed', $c2));

is(wait_status($j3, \@final, 15)->{status}, 'updated',
   'patient.updated: updated');
my $st4 = wait_status($j4, \@final, 15);
ok($st4->{status} eq 'skipped' || $st4->{status} eq 'updated',
   "crm.contact_changed after it: $st4->{status}") or diag explain $st4;
is(hint_patients()->{$p2}{email}, 'hint.new@example.org',
   'the patient keeps its newer email (not overwritten by the contact as '
   . 'it was before the write)');
is(email_of_contact($c2), hint_patients()->{$p2}{email},
   'the pair agrees');

# ---- 3. superseded: a newer update of the kind waits behind --------------
my ($p3) = @{ seed_patients(fixture_patient(id => 'pat-order3',
                                            email => 'v1@example.org')) };
my ($c3) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Maria', LastName => 'Lopez', Birthdate => '1958-04-12',
      Email => 'v0@example.org', Synced_To_Hint__c => JSON::PP::true,
      Hint_Patient_Id__c => $p3 } ]) };
hold_patch($c3, 'v1@example.org');
my $j5 = seed_job(hint_job('patient.updated', $p3));
ok(patch_arrived($c3, 'v1@example.org'), 'job 5 holds patient 3');
seed_patients(fixture_patient(id => $p3, email => 'v3@example.org'));
my $j6 = seed_job(hint_job('patient.updated', $p3));
is(wait_status($j6, ['queued', @final], 10)->{status}, 'queued',
   'job 6 waits');
my $j7 = seed_job(hint_job('patient.updated', $p3));
is(wait_status($j7, ['queued', @final], 10)->{status}, 'queued',
   'job 7 waits behind it');
my $st6 = wait_status($j6, \@final, 15);
is($st6->{status}, 'skipped', 'job 6: skipped') or diag explain $st6;
is($st6->{message}, "superseded by job $j7",
   '... superseded by the newer job of its kind');
is(wait_status($j7, \@final, 15)->{status}, 'updated', 'job 7: updated');
is(email_of_contact($c3), 'v3@example.org', 'the newest data is written');

# ---- 4. a worker dies holding a patient ----------------------------------
my ($p4) = @{ seed_patients(fixture_patient(id => 'pat-order4',
                                            email => 'd1@example.org')) };
my ($c4) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Maria', LastName => 'Lopez', Birthdate => '1958-04-12',
      Email => 'd0@example.org', Synced_To_Hint__c => JSON::PP::true,
      Hint_Patient_Id__c => $p4 } ]) };
stop_worker($pid_b, 'TERM');
$pid_b = undef;
hold_patch($c4, 'd1@example.org');
my $j8 = seed_job(hint_job('patient.updated', $p4));
ok(patch_arrived($c4, 'd1@example.org'), 'job 8 (A) holds patient 4');
stop_worker($pid_a, 'KILL');
start_b();
my $j9 = seed_job(hint_job('patient.updated', $p4));
# B parks job 9; job 8 is reclaimed once idle (claim_idle_ms), keeps its
# turn, and job 9 follows
my $st8 = wait_status($j8, \@final, 20);
ok($st8->{status} eq 'updated' || $st8->{status} eq 'skipped',
   "the dead worker's job is taken over: $st8->{status}");
my $st9 = wait_status($j9, \@final, 20);
ok($st9->{status} eq 'updated' || $st9->{status} eq 'skipped',
   "the patient is not blocked for good: job 9 $st9->{status}")
    or diag explain $st9;
is(email_of_contact($c4), 'd1@example.org', 'the patient data is written');
is(redis()->cmd('EXISTS', "{caresync}:lock:hint:$p4"), 0,
   'no key left held');

is(stop_worker($pid_b, 'TERM'), 0, 'B stops cleanly');
done_testing();
