# sync-rules.md §C.2 and the general rules, seed 002: "When changes are
# made in Hint Health to a Patient, those changes are reflected in the
# Salesforce Contact, and visa versa" -- crm.contact_changed jobs, and
# the echo of each direction (no ping-pong).
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

my ($p1) = @{ seed_patients(fixture_patient(id => 'pat-cc1')) };
my ($c1, $c2) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Maria', LastName => 'Lopez', Birthdate => '1958-04-12',
      MiddleName => 'Elena', Salutation => 'Ms.',
      Email => 'maria.new@example.org', MobilePhone => '5035550999',
      MailingStreet => "1200 NW Everett St\nApt 4", MailingCity => 'Portland',
      MailingState => 'OR', MailingPostalCode => '97209',
      MailingCountry => 'US', HomePhone => '(503) 555-0199',
      GenderIdentity => 'Female',
      Insurance_Payer__c => 'Typed In Salesforce',
      Hint_Practitioner__c => 'Dr. Nobody',
      Synced_To_Hint__c => JSON::PP::true, Hint_Patient_Id__c => $p1 },
    { FirstName => 'Not', LastName => 'Linked', Email => 'x@example.org' },
]) };

# ---- "changed contact fields go to the linked patient (contact wins)"
my $cc = action_job('crm.contact_changed', $c1);
my $st = run($cc);
is($st->{status}, 'updated', 'crm.contact_changed on a linked contact: '
   . 'updated') or diag explain $st;
my $pt = hint_patients()->{$p1};
is($pt->{email}, 'maria.new@example.org', 'contact wins: email');
my ($mob) = grep { lc $_->{type} eq 'mobile' } @{ $pt->{phones} };
is($mob->{number}, '5035550999', 'contact wins: mobile phone');
my ($home) = grep { lc $_->{type} eq 'home' } @{ $pt->{phones} };
is($home->{number}, '(503) 555-0199', 'other phones kept');
my $patch = hint_requests(method => 'PATCH');
is(scalar @$patch, 1, 'one PATCH to Hint');
my $body = $J->decode($patch->[0]{body});
is_deeply([ sort keys %$body ], [qw(email phones)],
          'only the differing fields are written');
# the Hint write in the audit trail: names of the fields, not values
my $aw;
ok(wait_for(sub {
       ($aw) = grep { $_->{kind} eq 'write' && $_->{job} eq $cc->{id} }
               map { +{ @{ $_->[1] } } }
               @{ redis()->cmd('XRANGE', '{caresync}:audit', '-', '+') };
       $aw }, 5), 'the PATCH to Hint is audited');
is("$aw->{target} $aw->{record} $aw->{fields}", "hint/patient $p1 email,phones",
   '... its target, the patient, the names of the fields written');
unlike(join(' ', values %$aw), qr/maria\.new|5035550999/, '... no value');

# ---- "Read Only in Salesforce": never written to Hint
is($pt->{health_insurance_payer_name}, 'Acme Health',
   'read-only insurance payer not written to Hint');
is($pt->{practitioner}{name}, 'Dr. Alan Reyes',
   'read-only practitioner not written to Hint');

# "Never blank a field from an empty source value"
fake_post('/__fake/salesforce/contacts', [ { %{ sf_contacts()->{$c1} },
    MiddleName => '', Email => 'maria.new@example.org' } ]);
my $n = @{ hint_requests(method => 'PATCH') };
$st = run(action_job('crm.contact_changed', $c1));
is($st->{status}, 'skipped', 'a blank contact middle name: nothing to write')
    or diag explain $st;
is(scalar @{ hint_requests(method => 'PATCH') }, $n, 'no PATCH');
is(hint_patients()->{$p1}{middle_name}, 'Elena', 'patient keeps it');

# not linked
$st = run(action_job('crm.contact_changed', $c2));
is($st->{status}, 'skipped', 'contact not linked: skipped');
is(scalar @{ hint_requests(method => 'PATCH') }, $n, 'no PATCH');

# unknown contact
$st = run(action_job('crm.contact_changed', '003000000000ZZZAAA'));
is($st->{status}, 'no_match', 'unknown contact: no_match');

# ---- the echo, Salesforce -> Hint -> Salesforce: the worker wrote the
#      patient; Hint's patient.updated comes back and writes nothing.
# (the read-only fields as an earlier Hint sync left them)
fake_post('/__fake/salesforce/contacts', [ { %{ sf_contacts()->{$c1} },
    MailingCity => 'Salem', MiddleName => 'Elena',
    Insurance_Payer__c => 'Acme Health',
    Hint_Practitioner__c => 'Dr. Alan Reyes', Insurance_Group_Id__c => 'GRP-551',
    Insurance_Member_Id__c => 'W123456789' } ]);
$st = run(action_job('crm.contact_changed', $c1));
is($st->{status}, 'updated', 'contact city changed: patient updated');
is(hint_patients()->{$p1}{address_city}, 'Salem', 'patient city written');
my $nsf = @{ sf_requests(method => 'PATCH') };
my $nh = @{ hint_requests(method => 'PATCH') };
$st = run(hint_job('patient.updated', $p1));
is($st->{status}, 'skipped', 'echo: the patient.updated it caused is '
   . 'skipped') or diag explain $st;
is(scalar @{ sf_requests(method => 'PATCH') }, $nsf,
   'echo: nothing written to Salesforce');
is(scalar @{ hint_requests(method => 'PATCH') }, $nh,
   'echo: nothing written to Hint');

# ---- the echo, Hint -> Salesforce -> Hint
fake_post('/__fake/hint/patients', [ { %{ hint_patients()->{$p1} },
    email => 'maria.hint@example.org', address_state => 'WA',
    health_insurance_payer_name => 'Beta Health' } ]);
$st = run(hint_job('patient.updated', $p1));
is($st->{status}, 'updated', 'patient changed in Hint: contact updated');
my $c = sf_contacts()->{$c1};
is($c->{Email}, 'maria.hint@example.org', 'contact email written');
is($c->{MailingState}, 'WA', 'contact state written');
is($c->{Insurance_Payer__c}, 'Beta Health',
   'read-only fields follow Hint');
$nsf = @{ sf_requests(method => 'PATCH') };
$nh = @{ hint_requests(method => 'PATCH') };
$st = run(action_job('crm.contact_changed', $c1));
is($st->{status}, 'skipped', 'echo: the crm.contact_changed it caused is '
   . 'skipped') or diag explain $st;
is(scalar @{ hint_requests(method => 'PATCH') }, $nh,
   'echo: nothing written to Hint');
is(scalar @{ sf_requests(method => 'PATCH') }, $nsf,
   'echo: nothing written to Salesforce');

# ---- Hint throttles (429 + Retry-After): retried, then done
fake_post('/__fake/inject', { app => 'hint', method => 'GET', times => 1,
    status => 429, json => { status => 429, message => 'Too many' },
    headers => { 'Retry-After' => '1' } });
fake_post('/__fake/salesforce/contacts', [ { %{ sf_contacts()->{$c1} },
    MailingCity => 'Bend' } ]);
my $t0 = time;
$st = wait_status(seed_job(action_job('crm.contact_changed', $c1)),
                  [qw(updated failed skipped)], 20);
is($st->{status}, 'updated', '429 from Hint: retried, then updated');
is($st->{attempts}, 2, 'two attempts');

# ---- a 422 is not retried, and its text (may quote values) is not kept
fake_post('/__fake/salesforce/contacts', [ { %{ sf_contacts()->{$c1} },
    MailingCity => 'Eugene' } ]);
fake_post('/__fake/inject', { app => 'hint', method => 'PATCH', times => 1,
    status => 422, json => { status => 422,
                             message => 'Validation failed: Eugene bad' } });
$st = wait_status(seed_job(action_job('crm.contact_changed', $c1)),
                  [qw(updated failed skipped)], 20);
is($st->{status}, 'failed', '422 from Hint: failed at once');
is($st->{attempts}, 1, 'not retried');
unlike($st->{last_error} . $st->{message}, qr/Eugene/, 'no value quoted');
my $check = 'check the fields written and the practice API key';
like($st->{message}, qr/Hint refused the patient's data \(422\).*\Q$check/,
     "the 422 message: $st->{message}");
unlike($st->{message}, qr/first|last name/i,
       'no claim that the refused field is the name');
is($st->{hint_patient_id}, $p1, 'the failed job names the patient');

is(stop_worker($pid), 0, 'worker stopped cleanly');
done_testing();
