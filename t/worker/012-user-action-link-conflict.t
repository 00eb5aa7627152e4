# A user action never writes another patient's contact: the contact its
# externalId or patient id finds (sync-rules.md §A step 1) gets the
# tracker view only when its HelpAround_Patient_Id__c is empty or the
# job's patient id.  Else `skipped`, naming the ids only, logged at
# `error`; no PATCH and no Task reach Salesforce.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;

my $env = start_env();
my $final = [qw(updated skipped failed no_match)];
fake_post('/__fake/config', { sf_case_insensitive => JSON::PP::true });

my $conf = write_config(
    'salesforce.partner_external_id_field' => 'Partner_External_Id__c',
    'salesforce.tracker_view_task' => 'on');
my $pid = start_worker($conf);

my ($by_id, $by_partner, $by_case, $free, $same) =
    @{ fake_post('/__fake/salesforce/contacts', [
        { LastName => 'Victim', HelpAround_Patient_Id__c => 'ha-victim' },
        { LastName => 'Victim', HelpAround_Patient_Id__c => 'ha-victim2',
          Partner_External_Id__c => 'partner-v2' },
        { LastName => 'Victim', HelpAround_Patient_Id__c => 'HA-CASE' },
        { LastName => 'Free' },
        { LastName => 'Same', HelpAround_Patient_Id__c => 'ha-same' },
    ]) };

sub writes_since {
    my ($n) = @_;
    my @all = @{ sf_requests() };
    return [ grep { $_->{method} ne 'GET' && $_->{path} !~ /oauth2/ }
             @all[$n .. $#all] ];
}

my @jobs;

sub refused {
    my ($what, $job, $cid, $linked, $pat) = @_;
    my $n = scalar @{ sf_requests() };
    my $j = seed_job($job);
    my $st = wait_status($j, $final);
    is($st->{status}, 'skipped', "$what: skipped") or diag explain $st;
    my $says = "CRM contact $cid is linked to HelpAround patient $linked, "
               . "not to this job's patient $pat";
    like($st->{message}, qr/^\Q$says\E(?![\w-])/,
         '... naming the contact, its patient and the job\'s patient');
    is_deeply(writes_since($n), [], '... no PATCH, no Task');
    ok(!sf_contacts()->{$cid}{Last_Tracker_View_At__c},
       '... no tracker view on that contact');
    my ($rc, $out) = worker_cmd($conf, 'log', '--level', 'error');
    my $line = "error user_action skipped job_id=$j reason=linked_elsewhere "
               . "contact=$cid linked_patient=$linked patient=$pat";
    like($out, qr/ \Q$line\E trace_id=[0-9a-f]{32}$/m,
         '... logged at error with the ids');
    push @jobs, $j;
}

refused('contact id of another patient',
        user_action_job(source_id => 'ha-attacker', external_id => $by_id),
        $by_id, 'ha-victim', 'ha-attacker');
refused('partner id of another patient',
        user_action_job(source_id => 'ha-attacker',
                        external_id => 'partner-v2'),
        $by_partner, 'ha-victim2', 'ha-attacker');
refused('patient id in another case',
        user_action_job(source_id => 'ha-case', external_id => 'x-case'),
        $by_case, 'HA-CASE', 'ha-case');

# a job without a patient id cannot be the patient of a linked contact
my $anon = user_action_job(external_id => $by_id);
delete $anon->{patient}{source_id};
refused('no patient id, a linked contact', $anon, $by_id, 'ha-victim',
        '(none)');

# ---- not linked, or linked to the job's patient: recorded ----
for my $case ([ 'not linked', 'ha-free', $free ],
              [ 'linked to the same patient', 'ha-same', $same ]) {
    my ($what, $src, $cid) = @$case;
    my $j = seed_job(user_action_job(source_id => $src, external_id => $cid));
    my $st = wait_status($j, $final);
    is($st->{status}, 'updated', "$what: updated") or diag explain $st;
    is($st->{crm_contact_id}, $cid, '... that contact');
    is(sf_contacts()->{$cid}{Last_Tracker_View_At__c},
       '2026-11-21T10:00:00.123+0000', '... the view recorded');
    ok((grep { ($_->{WhoId} // '') eq $cid }
        @{ fake_get('/__fake/salesforce/tasks') }), '... with its Task');
}
ok(!sf_contacts()->{$free}{HelpAround_Patient_Id__c},
   'a user action links nothing');

is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');

no_phi_in_log(name => 'the refusals name no one',
              files => ["$env->{dir}/worker.log"], stream => $conf,
              jobs => \@jobs, pattern => qr/Victim/);
done_testing();
