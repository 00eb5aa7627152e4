# Finding the contact of an enrollment (sync-rules.md §A step 1): by the
# externalId when it is a Salesforce contact id (a stale one falls
# through), by the partner external-id field when configured, else by
# HelpAround_Patient_Id__c; several matches, from the query or from the
# upsert's 300, end `skipped` with the candidate ids and no write.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;
use Caresync::Enrollment;

my $env = start_env();
my $J = JSON::PP->new->canonical->utf8;
my $final = [qw(created updated skipped failed no_match)];

sub writes_since {
    my ($n) = @_;
    my @all = @{ sf_requests() };
    return [ grep { $_->{method} ne 'GET' && $_->{path} !~ /oauth2/ }
             @all[$n .. $#all] ];
}

my $pid = start_worker(write_config());

# ---- by the externalId, a Salesforce contact id ----
my ($byid, $other) = @{ fake_post('/__fake/salesforce/contacts', [
    { LastName => 'Doe', FirstName => 'John', Email => 'old@example.org' },
    { LastName => 'Other', HelpAround_Patient_Id__c => 'ha-byid' } ]) };
my $n = scalar @{ sf_requests() };
my $j = seed_job(enrollment_job(source_id => 'ha-byid',
                                external_id => $byid));
my $st = wait_status($j, $final);
is($st->{status}, 'updated', 'externalId = contact id: updated')
    or diag explain $st;
is($st->{crm_contact_id}, $byid, '... that contact, not the one with the '
                                 . 'HelpAround id');
my @all = grep { $_->{path} !~ /oauth2/ }
          @{ sf_requests() }[$n .. $#{ sf_requests() }];
like($all[0]{path}, qr{/sobjects/Contact/$byid$}, '... read by id');
ok(!grep({ $_->{path} =~ m{/query} } @all), '... no query');
my $w = writes_since($n);
is(scalar @$w, 1, '... one write');
my $body = $J->decode($w->[0]{body});
is($body->{HelpAround_Patient_Id__c}, 'ha-byid', '... links the HelpAround id');
is($body->{Email}, 'test@gmail.com', '... the changed email');
ok(!exists $body->{LastName} && !exists $body->{FirstName},
   '... not the unchanged names');

# ---- a stale contact id falls through to the HelpAround id ----
($other) = @{ fake_post('/__fake/salesforce/contacts', [
    { LastName => 'Stale', HelpAround_Patient_Id__c => 'ha-stale' } ]) };
$j = seed_job(enrollment_job(source_id => 'ha-stale',
                             external_id => '003000000000000AAA'));
$st = wait_status($j, $final);
is($st->{status}, 'updated', 'stale contact id: found by HelpAround id')
    or diag explain $st;
is($st->{crm_contact_id}, $other, '... the contact with that id');

# ---- the partner external-id field ----
stop_worker($pid, 'TERM');
$pid = start_worker(write_config(
    'salesforce.partner_external_id_field' => 'Partner_External_Id__c'));
my ($partner) = @{ fake_post('/__fake/salesforce/contacts', [
    { LastName => 'Doe', Partner_External_Id__c => 'partner-77' } ]) };
$j = seed_job(enrollment_job(source_id => 'ha-partner',
                             external_id => 'partner-77'));
$st = wait_status($j, $final);
is($st->{status}, 'updated', 'partner external id: updated')
    or diag explain $st;
is($st->{crm_contact_id}, $partner, '... on the partner\'s contact');
is(sf_contacts()->{$partner}{HelpAround_Patient_Id__c}, 'ha-partner',
   '... now linked to the HelpAround id');

# ---- several contacts with the HelpAround id (the query) ----
my @dup = @{ fake_post('/__fake/salesforce/contacts', [
    { LastName => 'Dup1', HelpAround_Patient_Id__c => 'ha-dup' },
    { LastName => 'Dup2', HelpAround_Patient_Id__c => 'ha-dup' } ]) };
$n = scalar @{ sf_requests() };
$j = seed_job(enrollment_job(source_id => 'ha-dup', external_id => 'x-1'));
$st = wait_status($j, $final);
is($st->{status}, 'skipped', 'two contacts match: skipped') or diag explain $st;
like($st->{message}, qr/2 CRM contacts match/, '... says how many');
like($st->{message}, qr/\Q$dup[0]\E/, '... names the first candidate');
like($st->{message}, qr/\Q$dup[1]\E/, '... and the second');
is_deeply(writes_since($n), [], '... nothing written');
is(job_status($j)->{last_error} // '', '', '... not an error to retry');

# ---- the upsert answers 300 (they appeared after the query) ----
my @race = @{ fake_post('/__fake/salesforce/contacts', [
    { LastName => 'Race1', HelpAround_Patient_Id__c => 'ha-race' },
    { LastName => 'Race2', HelpAround_Patient_Id__c => 'ha-race' } ]) };
fake_post('/__fake/inject', { app => 'salesforce', method => 'GET',
    path => '/query.*ha-race', times => 1, status => 200,
    json => { totalSize => 0, done => JSON::PP::true, records => [] } });
$n = scalar @{ sf_requests() };
$j = seed_job(enrollment_job(source_id => 'ha-race', external_id => 'x-2'));
$st = wait_status($j, $final);
is($st->{status}, 'skipped', 'upsert 300 Multiple Choices: skipped')
    or diag explain $st;
like($st->{message}, qr/\Q$race[0]\E/, '... names the first candidate');
like($st->{message}, qr/\Q$race[1]\E/, '... and the second');
$w = writes_since($n);
is(scalar @$w, 1, '... the upsert was the only write attempt');
like($w->[0]{path}, qr{/Contact/HelpAround_Patient_Id__c/ha-race$},
     '... by the HelpAround id');
is(scalar(grep { ($_->{HelpAround_Patient_Id__c} // '') eq 'ha-race' }
            values %{ sf_contacts() }), 2, '... and created nothing');

# ---- a configured field name that is not an API name ----
stop_worker($pid, 'TERM');
$pid = start_worker(write_config(
    'salesforce.helparound_fields' => 'language=Bad Field'));
$j = seed_job(enrollment_job(source_id => 'ha-badconf'));
$st = wait_status($j, $final);
is($st->{status}, 'failed', 'a bad mapping override: failed');
like($st->{message}, qr/helparound_fields.*language/, '... says which entry');

# ---- renamed and turned-off fields ----
stop_worker($pid, 'TERM');
$pid = start_worker(write_config(
    'salesforce.helparound_fields' =>
        'language=Partner_External_Id__c, caregiver_name=, '
        . 'caregiver_relationship= ,caregiver_phone=,caregiver_email='));
$j = seed_job(enrollment_job(source_id => 'ha-rename', language => 'Spanish'));
$st = wait_status($j, $final);
is($st->{status}, 'created', 'renamed fields: created') or diag explain $st;
my $c = sf_contacts()->{$st->{crm_contact_id}};
is($c->{Partner_External_Id__c}, 'Spanish', '... language in the renamed field');
ok(!defined $c->{HelpAround_Language__c}, '... not in the default one');
ok(!defined $c->{HelpAround_Caregiver_Name__c}, '... a turned-off entry unset');

is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');
done_testing();
