# sync-rules.md §C.3-4, seed 002: "Manual Syncing of a Single Contact and
# Patient" (hint.sync) and "Unlinking a Contact from a Patient"
# (hint.unlink), through the job queue.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;
use Caresync::Hint;

my $J = JSON::PP->new;
my $env = start_env();
my $conf = write_config();
my $pid = start_worker($conf);
my @final = qw(updated created linked unlinked skipped no_match failed);

sub run { wait_status(seed_job($_[0]), \@final) }

# ---- "If the desired patient is found in Hint, simply select the radio
#      button next to that patient's name, and select Sync Patient."
# "if data for a particular field exists in both the contact and the
#  patient, the patient data will be overwritten by contact data.  If a
#  data field in the Contact record is blank, and the data for that field
#  exists in the patient, the contact will be updated with that data."
my ($pa, $pb) = @{ seed_patients(
    fixture_patient(id => 'pat-choseA', email => 'hint@example.org'),
    fixture_patient(id => 'pat-choseB', first_name => 'Other')) };
my ($c1, $c2) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Maria', LastName => 'Lopez', Birthdate => '1958-04-12',
      Email => 'crm@example.org', MailingCity => 'Eugene' },
    { FirstName => 'Someone', LastName => 'Else',
      Synced_To_Hint__c => JSON::PP::true, Hint_Patient_Id__c => $pa },
]) };

my $st = run(action_job('hint.sync', $c1, patient_id => $pa));
is($st->{status}, 'linked', 'Sync Patient with a chosen patient: linked')
    or diag explain $st;
like($st->{message}, qr/\Q$pa\E/, 'message names the patient');
is($st->{hint_patient_id}, $pa, 'so does hint_patient_id');
my $c = sf_contacts()->{$c1};
ok($c->{Synced_To_Hint__c}, '"the Synced to Hint checkbox checked"');
is($c->{Hint_Patient_Id__c}, $pa, '"the Hint Patient Id filled in"');
is($c->{Email}, 'crm@example.org', 'both have data: the contact keeps its');
is($c->{MobilePhone}, '5035550143', 'blank contact field filled from the '
   . 'patient');
is($c->{Insurance_Payer__c}, 'Acme Health',
   '"all other Hint-native fields that are populated" filled in');
my $pt = hint_patients()->{$pa};
is($pt->{email}, 'crm@example.org', 'the patient is overwritten by the '
   . 'contact');
is($pt->{address_city}, 'Eugene', 'city too');

# "Syncing to an already-linked patient is allowed. If this is done, the
#  previously linked patient is unlinked"
$c = sf_contacts()->{$c2};
ok(!$c->{Synced_To_Hint__c} && !$c->{Hint_Patient_Id__c},
   'the contact previously linked to that patient is unlinked');

# a contact linked to another patient: relinked to the chosen one
$st = run(action_job('hint.sync', $c1, patient_id => $pb));
is($st->{status}, 'linked', 'chosen patient while linked elsewhere: linked');
is(sf_contacts()->{$c1}{Hint_Patient_Id__c}, $pb, 'now linked to B');
ok(hint_patients()->{$pa}, 'the old patient is not deleted');

# unknown chosen patient
$st = run(action_job('hint.sync', $c1, patient_id => 'pat-nobody'));
is($st->{status}, 'no_match', 'chosen patient not in Hint: no_match');

# ---- by exact match (first, last name, birth date)
my ($pm) = @{ seed_patients(fixture_patient(id => 'pat-exact',
    first_name => 'Ana', last_name => 'Silva', dob => '1966-06-06')) };
my ($c3, $c4, $c5) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Ana', LastName => 'Silva', Birthdate => '1966-06-06' },
    { FirstName => 'Zed', LastName => 'Nomatch', Birthdate => '1999-09-09',
      Email => 'zed@example.org' },
    { FirstName => 'Twin', LastName => 'Twice', Birthdate => '1977-07-07' },
]) };
$st = run(action_job('hint.sync', $c3));
is($st->{status}, 'linked', 'exact match, one: linked') or diag explain $st;
is(sf_contacts()->{$c3}{Hint_Patient_Id__c}, $pm, 'to that patient');
is($st->{hint_patient_id}, $pm, 'exact match linked: hint_patient_id');
my $lq = hint_requests(method => 'GET', path => qr{/patients$});
like($lq->[-1]{query}, qr/first_name=Ana/, 'searched Hint by first name');
like($lq->[-1]{query}, qr/dob=1966-06-06/, 'and birth date');

# none -> no_match, or a new patient when asked
my $n = keys %{ hint_patients() };
$st = run(action_job('hint.sync', $c4));
is($st->{status}, 'no_match', 'no match, create not asked: no_match');
is(scalar keys %{ hint_patients() }, $n, 'no patient created');

$st = run(action_job('hint.sync', $c4, create => JSON::PP::true));
is($st->{status}, 'created', '"Create New Patient": created')
    or diag explain $st;
my ($np) = grep { ($_->{last_name} // '') eq 'Nomatch' }
           values %{ hint_patients() };
ok($np, 'a new Hint patient');
is($np->{email}, 'zed@example.org', 'with the contact data');
is(sf_contacts()->{$c4}{Hint_Patient_Id__c}, $np->{id}, 'and linked');

# several -> skipped with the candidates
my ($t1, $t2) = @{ seed_patients(
    fixture_patient(id => 'pat-twin1', first_name => 'Twin',
                    last_name => 'Twice', dob => '1977-07-07'),
    fixture_patient(id => 'pat-twin2', first_name => 'twin',
                    last_name => 'twice', dob => '1977-07-07')) };
$st = run(action_job('hint.sync', $c5, create => JSON::PP::true));
is($st->{status}, 'skipped', 'several matches: skipped') or diag explain $st;
like($st->{message}, qr/\Q$t1\E/, 'candidate 1 listed');
like($st->{message}, qr/\Q$t2\E/, 'candidate 2 listed');
ok(!sf_contacts()->{$c5}{Hint_Patient_Id__c}, 'nothing linked');
ok(!$st->{hint_patient_id}, 'several candidates: no one hint_patient_id');

# ---- "To unlink a patient and a contact, use the Unlink Patient button"
my $nd = @{ hint_requests(method => 'DELETE') };
my $uj = action_job('hint.unlink', $c3);
$st = run($uj);
is($st->{status}, 'unlinked', 'hint.unlink: unlinked') or diag explain $st;
is($st->{hint_patient_id}, $pm, 'the patient it was linked to');
my ($jrc, $jout) = worker_cmd($conf, 'jobs', 'show', $uj->{id});
like($jout, qr/^\s*hint_patient_id:?\s+\Q$pm\E\s*$/m,
     "`jobs show` prints hint_patient_id:\n$jout");
like($jout, qr/^\s*message:?\s+Unlinked/m, 'and the message');
$c = sf_contacts()->{$c3};
ok($c, 'the contact stays');
ok(!$c->{Synced_To_Hint__c}, 'Synced_To_Hint__c cleared');
ok(!$c->{Hint_Patient_Id__c}, 'Hint_Patient_Id__c cleared');
ok(hint_patients()->{$pm}, 'the patient stays');
is(scalar @{ hint_requests(method => 'DELETE') }, $nd, 'no DELETE to Hint');
$st = run(action_job('hint.unlink', $c3));
is($st->{status}, 'skipped', 'unlinking an unlinked contact: skipped');

is(stop_worker($pid), 0, 'worker stopped cleanly');
done_testing();
