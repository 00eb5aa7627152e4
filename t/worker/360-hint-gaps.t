# sync-rules.md §C with external-apis.md's "Integration fields are custom
# fields whose API names are configuration": an org whose Hint fields have
# other API names (salesforce.field_* keys), against the fake Salesforce
# told to know only those names, through the job queue.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;
use Caresync::Hint;

my $env = start_env();
my @final = qw(updated created linked unlinked skipped no_match failed);

my %rename = (
    Hint_Patient_Id__c => 'Hint_Pat__c',
    Synced_To_Hint__c => 'In_Hint__c',
    Hint_Practitioner__c => 'Doctor__c',
    Insurance_Payer__c => 'Payer__c',
    Insurance_Group_Id__c => 'Grp__c',
    Insurance_Member_Id__c => 'Member__c',
    Member_Contract_Accepted__c => 'Contract_Ok__c',
    Member_Contract_Accepted_At__c => 'Contract_Ok_At__c',
    HIPAA_Authorization_Accepted__c => 'Hipaa_Ok__c',
    HIPAA_Authorization_Accepted_At__c => 'Hipaa_Ok_At__c',
    Last_Batch_Sync_Id__c => 'Batch_Mark__c',
);
my %key = (
    Hint_Patient_Id__c => 'field_hint_patient_id',
    Synced_To_Hint__c => 'field_synced_to_hint',
    Hint_Practitioner__c => 'field_hint_practitioner',
    Insurance_Payer__c => 'field_insurance_payer',
    Insurance_Group_Id__c => 'field_insurance_group_id',
    Insurance_Member_Id__c => 'field_insurance_member_id',
    Member_Contract_Accepted__c => 'field_member_contract_accepted',
    Member_Contract_Accepted_At__c => 'field_member_contract_accepted_at',
    HIPAA_Authorization_Accepted__c => 'field_hipaa_authorization_accepted',
    HIPAA_Authorization_Accepted_At__c =>
        'field_hipaa_authorization_accepted_at',
    Last_Batch_Sync_Id__c => 'field_last_batch_sync_id',
);
my $acct = '001000000000001AAA';
my $renamed = write_config(
    'hint.create_contacts' => 'on', 'hint.default_account_id' => $acct,
    map { ("salesforce.$key{$_}" => $rename{$_}) } keys %rename);
my $default = write_config('hint.create_contacts' => 'on');

my $known = fake_post('/__fake/salesforce/fields', \%rename);
ok((grep { $_ eq 'Hint_Pat__c' } @$known)
   && !(grep { $_ eq 'Hint_Patient_Id__c' } @$known),
   'the fake Salesforce knows the renamed fields only');

sub run_jobs {
    my ($conf, @jobs) = @_;
    my $pid = start_worker($conf);
    my @st = map { wait_status(seed_job($_), [@final, 'retrying']) } @jobs;
    is(stop_worker($pid), 0, 'worker stopped cleanly');
    return wantarray ? @st : $st[0];
}

my %facts = (member_contract_accepted => JSON::PP::true,
             member_contract_accepted_at => '2026-11-01T10:00:00Z',
             hipaa_authorization_accepted => JSON::PP::true,
             hipaa_authorization_accepted_at => '2026-11-01T10:05:00Z');

# ---- patient.updated on a contact linked through the renamed fields
my ($p1) = @{ seed_patients(fixture_patient(id => 'pat-ren1', %facts)) };
my ($c1) = @{ fake_post('/__fake/salesforce/contacts', [
    { LastName => 'Lopez', FirstName => 'Maria', Birthdate => '1958-04-12',
      In_Hint__c => JSON::PP::true, Hint_Pat__c => $p1 } ]) };

my $st = run_jobs($default, hint_job('patient.updated', $p1));
isnt($st->{status}, 'updated', 'the default names are refused by this org: '
     . "$st->{status}");

$st = run_jobs($renamed, hint_job('patient.updated', $p1));
is($st->{status}, 'updated', 'renamed link fields: the linked contact is '
   . 'found and updated') or diag explain $st;
is($st->{hint_patient_id}, $p1, 'hint_patient_id');
my $c = sf_contacts()->{$c1};
is($c->{Doctor__c}, 'Dr. Alan Reyes', 'practitioner into its renamed field');
is($c->{Payer__c}, 'Acme Health', 'insurance payer');
is($c->{Grp__c}, 'GRP-551', 'insurance group id');
is($c->{Member__c}, 'W123456789', 'insurance member id');
ok($c->{Contract_Ok__c}, 'member contract accepted');
like($c->{Contract_Ok_At__c} // '', qr/^2026-11-01T10:00:00/, '... at');
ok($c->{Hipaa_Ok__c}, 'HIPAA authorization accepted');
like($c->{Hipaa_Ok_At__c} // '', qr/^2026-11-01T10:05:00/, '... at');
ok(!grep({ exists $c->{$_} } keys %rename), 'no default name written');

# ---- patient.created, no match: a new contact linked by the renamed pair
my ($p2) = @{ seed_patients(fixture_patient(id => 'pat-ren2',
    first_name => 'Rita', last_name => 'Renamed', dob => '1991-02-03')) };
$st = run_jobs($renamed, hint_job('patient.created', $p2));
is($st->{status}, 'created', 'patient.created: created') or diag explain $st;
my ($new) = grep { ($_->{Hint_Pat__c} // '') eq $p2 }
            values %{ sf_contacts() };
ok($new && $new->{In_Hint__c}, 'linked through the renamed fields');

# ---- hint.unlink clears the renamed pair
$st = run_jobs($renamed, action_job('hint.unlink', $c1));
is($st->{status}, 'unlinked', 'hint.unlink: unlinked') or diag explain $st;
$c = sf_contacts()->{$c1};
ok(!$c->{In_Hint__c} && !$c->{Hint_Pat__c}, 'renamed pair cleared');
is($st->{hint_patient_id}, $p1, 'hint_patient_id: the patient it had');

# ---- a batch marks with the renamed field; hint.sync relinks by it
my $csv = "$env->{dir}/one.csv";
open my $fh, '>', $csv or die;
print $fh "Contact ID\r\n$c1\r\n";
close $fh;
my ($rc, $out) = worker_cmd($renamed, 'batch', 'crm-to-hint', '--csv',
                            $csv);
my ($bid) = $out =~ /^batch (\S+) queued/m;
ok($bid, "crm-to-hint queued: $out");
my $pid = start_worker($renamed);
wait_for(sub { (undef, $out) = worker_cmd($renamed, 'batch', 'status',
                                          $bid); $out =~ /finished/ }, 20);
like($out, qr/linked 1,/, "linked again: $out");
is(stop_worker($pid), 0, 'worker stopped cleanly');
$c = sf_contacts()->{$c1};
is($c->{Hint_Pat__c}, $p1, 'relinked through the renamed field');
is($c->{Batch_Mark__c}, $bid, 'the renamed batch mark');

# ---- a bad API name: the job fails, saying which key to fix
my $bad = write_config('salesforce.field_synced_to_hint' => 'Bad-Name');
$st = run_jobs($bad, hint_job('patient.updated', $p1));
is($st->{status}, 'failed', 'a bad field name: failed') or diag explain $st;
like($st->{message}, qr/field_synced_to_hint/, "the key is named: "
     . $st->{message});

fake_post('/__fake/salesforce/fields', {});
done_testing();
