# An enrollment never rewrites another patient's contact: the externalId
# and the patient id are the sender's, so a contact found by any step of
# sync-rules.md §A step 1 (contact id, partner external-id field,
# HelpAround_Patient_Id__c) is written only when its HelpAround_Patient_Id__c
# is empty or the job's patient id.  Else the job ends `skipped`, naming
# the ids only, logged at `error`, and nothing reaches Salesforce: no
# PATCH, no file, no enrichment job.
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

# SOQL `=` ignores case on the HelpAround id field, as Salesforce does
fake_post('/__fake/config', { sf_case_insensitive => JSON::PP::true });

my $conf = write_config(
    'salesforce.partner_external_id_field' => 'Partner_External_Id__c',
    'helparound.media_url_template' => "$env->{fake}/helparound/media/{id}",
    'helparound.api_key' => 'fake-ha-key',
    'helparound.enrich_with_healthsherpa' => 'on');
my $pid = start_worker($conf);

sub writes_since {
    my ($n) = @_;
    my @all = @{ sf_requests() };
    return [ grep { $_->{method} ne 'GET' && $_->{path} !~ /oauth2/ }
             @all[$n .. $#all] ];
}

my %victim = (LastName => 'Victim', FirstName => 'Vera',
              Email => 'vera@example.org', MobilePhone => '+15035550100',
              Insurance_Member_Id__c => 'VIC-1');

my ($by_id, $by_partner, $by_case, $free, $same, $partner_same) =
    @{ fake_post('/__fake/salesforce/contacts', [
        { %victim, HelpAround_Patient_Id__c => 'ha-victim' },
        { %victim, HelpAround_Patient_Id__c => 'ha-victim2',
          Partner_External_Id__c => 'partner-v2' },
        { %victim, HelpAround_Patient_Id__c => 'HA-CASE' },
        { LastName => 'Free' },
        { LastName => 'Same', HelpAround_Patient_Id__c => 'ha-same' },
        { LastName => 'PSame', HelpAround_Patient_Id__c => 'ha-psame',
          Partner_External_Id__c => 'partner-same' },
    ]) };
my $before = sf_contacts();

# One attack: skipped, the ids named, nothing written anywhere.
sub refused {
    my ($what, $job, $cid, $linked) = @_;
    my $n = scalar @{ sf_requests() };
    my $files = scalar @{ fake_get('/__fake/salesforce/content_versions') };
    my $fetched = scalar @{ fake_get('/__fake/requests?app=helparound') };
    my $j = seed_job($job);
    my $st = wait_status($j, $final);
    my $pat = $job->{patient}{source_id};
    is($st->{status}, 'skipped', "$what: skipped") or diag explain $st;
    my $says = "CRM contact $cid is linked to HelpAround patient $linked, "
               . "not to this job's patient $pat";
    like($st->{message}, qr/^\Q$says\E(?![\w-])/,
         '... naming the contact, its patient and the job\'s patient');
    unlike($st->{message}, qr/John|Doe|test\@gmail|Vera|Victim|vera\@|5035550/,
           '... by ids only');
    is($st->{last_error} // '', '', '... not an error to retry');
    is($st->{attempts}, 1, '... not retried');
    is_deeply(writes_since($n), [], '... no write reached Salesforce');
    is_deeply(sf_contacts()->{$cid}, $before->{$cid},
              '... the contact is as it was');
    is(scalar @{ fake_get('/__fake/salesforce/content_versions') }, $files,
       '... no file attached');
    is(scalar @{ fake_get('/__fake/requests?app=helparound') }, $fetched,
       '... no media fetched');
    ok(!job_status("$j-hs")->{type}, '... no enrichment job');
    my ($rc, $out) = worker_cmd($conf, 'log', '--level', 'error');
    my $line = "error enrollment skipped job_id=$j reason=linked_elsewhere "
               . "contact=$cid linked_patient=$linked patient=$pat";
    like($out, qr/ \Q$line\E trace_id=[0-9a-f]{32}$/m,
         '... logged at error with the ids');
    return $j;
}

my @jobs;

# ---- the externalId names another patient's contact ----
push @jobs, refused('contact id of another patient',
    enrollment_job(source_id => 'ha-attacker', external_id => $by_id),
    $by_id, 'ha-victim');

# ---- the partner external-id field picks another patient's contact ----
push @jobs, refused('partner id of another patient',
    enrollment_job(source_id => 'ha-attacker', external_id => 'partner-v2'),
    $by_partner, 'ha-victim2');

# ---- the patient id matches only in another case (SOQL ignores case) ----
push @jobs, refused('patient id in another case',
    enrollment_job(source_id => 'ha-case', external_id => 'x-case'),
    $by_case, 'HA-CASE');

# ---- not linked: written, and linked to the job's patient ----
my $n = scalar @{ sf_requests() };
my $j = seed_job(enrollment_job(source_id => 'ha-free', external_id => $free));
my $st = wait_status($j, $final);
is($st->{status}, 'updated', 'contact not linked: updated')
    or diag explain $st;
is($st->{crm_contact_id}, $free, '... that contact');
my $c = sf_contacts()->{$free};
is($c->{HelpAround_Patient_Id__c}, 'ha-free', '... now linked to the patient');
is($c->{Email}, 'test@gmail.com', '... with the enrollment\'s data');
push @jobs, $j;

# ---- linked to the job's patient: written ----
for my $case ([ 'by contact id', 'ha-same', $same, $same ],
              [ 'by partner id', 'ha-psame', 'partner-same', $partner_same ]) {
    my ($what, $src, $ext, $cid) = @$case;
    $j = seed_job(enrollment_job(source_id => $src, external_id => $ext));
    $st = wait_status($j, $final);
    is($st->{status}, 'updated', "linked to the same patient, $what: updated")
        or diag explain $st;
    is($st->{crm_contact_id}, $cid, '... that contact');
    is(sf_contacts()->{$cid}{Email}, 'test@gmail.com', '... written');
}

# the victims still hold their own data
is_deeply(sf_contacts()->{$_}, $before->{$_}, "contact $_ untouched")
    for $by_id, $by_partner, $by_case;

is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');

no_phi_in_log(name => 'the refusals name no one',
              files => ["$env->{dir}/worker.log"], stream => $conf,
              jobs => \@jobs,
              pattern => qr/John|Doe|test\@gmail|Vera|Victim|vera\@|5035550/);

done_testing();
