# sync-rules.md §C.1, seed 002: Hint patient events (hint.patient jobs)
# against the stateful Hint and Salesforce fakes, through the job queue.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;
use Caresync::Hint;

my $J = JSON::PP->new;
my $env = start_env();
my $acct = '001000000000001AAA';
my $on = write_config('hint.create_contacts' => 'on',
                      'hint.default_account_id' => $acct);
my $off = write_config();

sub run_jobs {
    my ($conf, @jobs) = @_;
    my $pid = start_worker($conf);
    my @st;
    for my $j (@jobs) {
        my $id = seed_job($j);
        push @st, wait_status($id, [qw(updated created linked unlinked
                                       skipped no_match failed)]);
    }
    is(stop_worker($pid), 0, 'worker stopped cleanly');
    return wantarray ? @st : $st[0];
}

# ---- "When changes are made in Hint Health to a Patient, those changes
#      are reflected in the Salesforce Contact"

my ($p1) = @{ seed_patients(fixture_patient(id => 'pat-upd1',
                                            email => 'new@example.org')) };
my ($c1, $cu) = @{ fake_post('/__fake/salesforce/contacts', [
    { LastName => 'Lopez', FirstName => 'Maria', Birthdate => '1958-04-12',
      Email => 'old@example.org', MiddleName => 'Keep',
      Synced_To_Hint__c => JSON::PP::true, Hint_Patient_Id__c => $p1 },
    { LastName => 'Lopez', FirstName => 'Maria', Birthdate => '1958-04-12',
      Email => 'unlinked@example.org' },
]) };

my $st = run_jobs($off, hint_job('patient.updated', $p1));
is($st->{status}, 'updated', 'patient.updated on a linked contact: updated')
    or diag explain $st;
is($st->{crm_contact_id}, $c1, 'status names the contact');
is($st->{hint_patient_id}, $p1, 'and the patient (hint_patient_id)');
like($st->{message}, qr/\S/, 'the human message stays in message');
my $c = sf_contacts()->{$c1};
is($c->{Email}, 'new@example.org', 'patient wins: Email overwritten');
is($c->{MiddleName}, 'Elena', 'patient wins: MiddleName overwritten');
is($c->{MobilePhone}, '5035550143', 'mobile phone mapped');
is($c->{HomePhone}, '(503) 555-0199', 'home phone mapped ("Home" type)');
is($c->{MailingStreet}, "1200 NW Everett St\nApt 4",
   'address lines 1 and 2 into the street');
is($c->{GenderIdentity}, 'Female', 'sex mapped to GenderIdentity');
is($c->{Hint_Practitioner__c}, 'Dr. Alan Reyes',
   'read-only field: practitioner name');
is($c->{Insurance_Payer__c}, 'Acme Health', 'read-only: insurance payer');
is($c->{Insurance_Group_Id__c}, 'GRP-551', 'read-only: group id');
is($c->{Insurance_Member_Id__c}, 'W123456789', 'read-only: member id');
is(sf_contacts()->{$cu}{Email}, 'unlinked@example.org',
   'the unlinked look-alike is untouched');
is(scalar @{ hint_requests(method => 'PATCH') }, 0,
   'patient.updated writes nothing to Hint');

# "Never blank a field from an empty source value"
fake_post('/__fake/hint/patients', [ fixture_patient(
    id => $p1, email => 'new@example.org', middle_name => undef,
    title => undef) ]);
fake_post('/__fake/salesforce/contacts', [ { %{ sf_contacts()->{$c1} },
                                             Salutation => 'Dr.' } ]);
my $np = @{ sf_requests(method => 'PATCH') };
$st = run_jobs($off, hint_job('patient.updated', $p1));
is($st->{status}, 'skipped', 'nothing differs: skipped') or diag explain $st;
is(scalar @{ sf_requests(method => 'PATCH') }, $np, 'no PATCH');
is(sf_contacts()->{$c1}{MiddleName}, 'Elena',
   'an empty patient middle name does not blank the contact');
is(sf_contacts()->{$c1}{Salutation}, 'Dr.', 'nor an empty prefix');

# not linked -> nothing
my ($p2) = @{ seed_patients(fixture_patient(id => 'pat-nolink')) };
$st = run_jobs($off, hint_job('patient.updated', $p2));
is($st->{status}, 'skipped', 'patient.updated, no linked contact: skipped');

# ---- "Creation of Salesforce contacts upon creation of Hint patients is
#      controlled by the checkbox"

my $before = keys %{ sf_contacts() };
my ($p3) = @{ seed_patients(fixture_patient(id => 'pat-new1',
    first_name => 'Nadia', last_name => 'Novak', dob => '1990-01-02')) };
$st = run_jobs($off, hint_job('patient.created', $p3));
is($st->{status}, 'skipped', 'option off: patient.created skipped');
like($st->{message}, qr/off/i, "message says so: $st->{message}");
is(scalar keys %{ sf_contacts() }, $before, 'no contact created');

# ---- "If there is no demographic match for the Hint patient in a
#      Salesforce contact, a new contact will be created"
$st = run_jobs($on, hint_job('patient.created', $p3));
is($st->{status}, 'created', 'option on, no match: created')
    or diag explain $st;
my ($new) = grep { ($_->{Hint_Patient_Id__c} // '') eq $p3 }
            values %{ sf_contacts() };
ok($new, 'a contact carries the patient id');
ok($new->{Synced_To_Hint__c}, 'Synced to Hint checked');
is($new->{AccountId}, $acct, 'under the configured default account');
is($new->{LastName}, 'Novak', 'with the Hint data fields');
is($st->{crm_contact_id}, $new->{Id}, 'status names the new contact');
is($st->{hint_patient_id}, $p3, 'created: hint_patient_id');

# ---- "the patient and the contact will only be synced together if the
#      Synced to Hint field on the contact is not checked ... Where any
#      Patient data fields are blank, any Contact data for those fields
#      will be populated into the patient fields. Where there is
#      conflicting data in the contact and patient fields, the patient
#      field value will overwrite the contact field value."
my ($p4) = @{ seed_patients(fixture_patient(id => 'pat-match1',
    first_name => 'Olga', last_name => 'Petrova', dob => '1970-05-06',
    email => 'olga@hint.example', address_line2 => undef,
    phones => [ { number => '5035550001', type => 'mobile' } ])) };
my ($c4) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => '  olga ', LastName => 'PETROVA', Birthdate => '1970-05-06',
      Email => 'olga@crm.example', HomePhone => '5035550002',
      MailingCity => 'Salem' } ]) };
my $linked = hint_job('patient.created', $p4);
$st = run_jobs($on, $linked);
is($st->{status}, 'linked', 'one unsynced exact match (trimmed, any case): '
   . 'linked') or diag explain $st;
is($st->{crm_contact_id}, $c4, 'that contact');
is($st->{hint_patient_id}, $p4, 'linked: hint_patient_id');
$c = sf_contacts()->{$c4};
ok($c->{Synced_To_Hint__c}, 'Synced to Hint checked');
is($c->{Hint_Patient_Id__c}, $p4, 'Hint Patient Id filled in');
is($c->{Email}, 'olga@hint.example', 'conflict: the patient overwrites');
is($c->{MailingCity}, 'Portland', 'conflict: city from the patient');
my $pt = hint_patients()->{$p4};
my ($home) = grep { lc $_->{type} eq 'home' } @{ $pt->{phones} };
is($home && $home->{number}, '5035550002',
   'blank patient home phone filled from the contact (written to Hint)');
my ($mob) = grep { lc $_->{type} eq 'mobile' } @{ $pt->{phones} };
is($mob && $mob->{number}, '5035550001', 'the patient keeps its mobile');
my $hp = hint_requests(method => 'PATCH', path => qr/\Q$p4\E/);
is(scalar @$hp, 1, 'one PATCH to Hint');
my $body = $J->decode($hp->[0]{body});
ok(!exists $body->{email} && !exists $body->{address_city},
   'the PATCH carries only the blank-filled fields');

# already synced to another patient -> skipped, logged
my ($p5) = @{ seed_patients(fixture_patient(id => 'pat-match2',
    first_name => 'Olga', last_name => 'Petrova', dob => '1970-05-06')) };
$np = @{ sf_requests(method => 'PATCH') };
$st = run_jobs($on, hint_job('patient.created', $p5));
is($st->{status}, 'skipped', 'the match is synced to another patient: '
   . 'skipped') or diag explain $st;
is(scalar @{ sf_requests(method => 'PATCH') }, $np, 'no contact write');
is($st->{hint_patient_id}, $p5, 'skipped, one candidate: hint_patient_id');
is($st->{crm_contact_id}, $c4, 'and the candidate contact');
is(sf_contacts()->{$c4}{Hint_Patient_Id__c}, $p4, 'link unchanged');
my ($rc, $out) = worker_cmd($on, 'log', '--level', 'error');
like($out, qr/reason=match_linked_elsewhere.*patient=\Q$p5\E/,
     'logged at level error with the ids');

# several matches -> skipped
fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Ivan', LastName => 'Dup', Birthdate => '1980-01-01' },
    { FirstName => 'ivan', LastName => 'Dup', Birthdate => '1980-01-01' } ]);
my ($p6) = @{ seed_patients(fixture_patient(id => 'pat-dup',
    first_name => 'Ivan', last_name => 'Dup', dob => '1980-01-01')) };
$np = @{ sf_requests(method => 'PATCH') };
my $nc = keys %{ sf_contacts() };
$st = run_jobs($on, hint_job('patient.created', $p6));
is($st->{status}, 'skipped', 'several matches: skipped') or diag explain $st;
is(scalar keys %{ sf_contacts() }, $nc, 'nothing created');
is(scalar @{ sf_requests(method => 'PATCH') }, $np, 'nothing written');
($rc, $out) = worker_cmd($on, 'log', '--level', 'error');
like($out, qr/reason=several_matches.*patient=\Q$p6\E/, 'logged');

# a different birth date is no match
my ($p7) = @{ seed_patients(fixture_patient(id => 'pat-otherdob',
    first_name => 'Ivan', last_name => 'Dup', dob => '1980-01-02')) };
$st = run_jobs($on, hint_job('patient.created', $p7));
is($st->{status}, 'created', 'same names, other birth date: a new contact');

# ---- "patient.destroyed" -> unlink, the contact stays (once Hint confirms
#      that the patient is gone: t/worker/365-hint-linked-only.t)
delete_patient($p4);
my $destroyed = hint_job('patient.destroyed', $p4);
$st = run_jobs($off, $destroyed);
is($st->{status}, 'unlinked', 'patient.destroyed: unlinked')
    or diag explain $st;
is($st->{hint_patient_id}, $p4, 'unlinked: hint_patient_id');
$c = sf_contacts()->{$c4};
ok($c, 'the contact stays');
ok(!$c->{Synced_To_Hint__c}, 'Synced to Hint cleared');
ok(!$c->{Hint_Patient_Id__c}, 'Hint Patient Id cleared');
is($c->{Email}, 'olga@hint.example', 'its data stays');

# no PHI in the log (the stream and stderr) of the jobs about Olga Petrova
no_phi_in_log(name => 'the sync log holds ids only',
              files => ["$env->{dir}/worker.log"], stream => $on,
              jobs => [ $linked->{id}, $destroyed->{id} ],
              pattern => qr/Olga|Petrova|1970-05-06|olga\@|5035550/i);

done_testing();
