# sync-rules.md §C.5-7, seed 002: "Batch Syncing Salesforce Contacts to
# Hint Patients", "Batch Syncing Hint Patients to Salesforce Contacts",
# "Batch Processing Results", and "Abort Batch" -- over issue 6's batch
# machinery, through the job queue.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;
use Caresync::Hint;

my $env = start_env();
my $conf = write_config();
my $fixture = (grep { -f } map { "$_/salesforce/report-export.csv" }
               Caresync::Worker::root() . '/../shared/fixtures', '/work/shared/fixtures')[0];

sub batch_id { $_[0] =~ /^batch (\S+) queued/m ? $1 : undef }

sub wait_batch {
    my ($id) = @_;
    my $out;
    wait_for(sub { (undef, $out) = worker_cmd($conf, 'batch', 'status', $id);
                   $out =~ /finished/ }, 30);
    return $out;
}

sub report {
    my ($id) = @_;
    my ($rc, $out) = worker_cmd($conf, 'batch', 'report', $id);
    my %r;
    for (split /\r\n/, $out) {
        my @f = split /,/, $_, 3;
        $r{$f[0]} = { status => $f[1], rest => $f[2] };
    }
    return ($rc, \%r, $out);
}

# ---- "Batch Syncing Salesforce Contacts to Hint Patients": the report
#      fixture (BOM, quotes, CRLF, a cut id, the footer paragraph)
my $john = '003Hs00001AbCdEIAV';
my $maria = '003Hs00001XyZwVIAV';
fake_post('/__fake/salesforce/contacts', [
    { Id => $john, FirstName => 'John', LastName => 'Doe',
      Birthdate => '1970-01-01' },
    { Id => $maria, FirstName => 'Maria', LastName => 'Lopez',
      Birthdate => '1958-04-12', Email => 'maria.crm@example.org',
      MobilePhone => '5035550777' },
]);
my ($pm) = @{ seed_patients(fixture_patient(id => 'pat-batchM',
                                            middle_name => 'Elena')) };

my ($rc, $out, $err) = worker_cmd($conf, 'batch', 'crm-to-hint', '--csv',
                                  $fixture);
is($rc, 0, 'batch crm-to-hint --csv <report export>: queued') or diag $err;
my $bid = batch_id($out);
ok($bid, "the batch has an id ($out)");
like($out, qr/2 contacts \(\d+ rows ignored/, 'two ids; the rest ignored '
     . 'and counted');

my $pid = start_worker($conf);
$out = wait_batch($bid);
like($out, qr{2/2 done}, "progress: $out");
like($out, qr/linked 1, created 0, updated 0, no_match 1, failed 0, skipped 0/,
     'a Hint batch counts linked/created/updated');
unlike($out, qr/matched/, 'not matched, which a Hint item never is');

my $report;
($rc, $report, $out) = report($bid);
is($rc, 0, 'batch report');
like($out, qr/^contact_id,status,message,job_id,hint_patient_id\r\n/,
     'a CSV with a header; the last column the Hint patient');
like($out, qr/^\Q$maria\E,linked,[^\r]*,\Q$pm\E\r$/m,
     'the linked contact\'s row names its patient');
is($report->{$john}{status}, 'no_match', 'John Doe: no Hint match: no_match');
is($report->{$maria}{status}, 'linked', 'Maria Lopez: one exact match: '
   . 'linked') or diag $out;

my $c = sf_contacts()->{$maria};
ok($c->{Synced_To_Hint__c}, '"The Synced to Hint ... filled in"');
is($c->{Hint_Patient_Id__c}, $pm, '"... and Hint Patient ID fields"');
is($c->{Last_Batch_Sync_Id__c}, $bid, 'Last_Batch_Sync_Id__c set on the '
   . 'contact the batch touched');
is($c->{MiddleName}, 'Elena', '"Where Hint fields on the contact are '
   . 'blank ... the patient data will be used"');
is($c->{Email}, 'maria.crm@example.org', 'the contact keeps its data');
my $pt = hint_patients()->{$pm};
is($pt->{email}, 'maria.crm@example.org', '"contact data ... overwriting '
   . 'any Patient data"');
my ($mob) = grep { lc $_->{type} eq 'mobile' } @{ $pt->{phones} };
is($mob->{number}, '5035550777', 'the mobile phone too');
# §C.7 "set on every contact the batch touched": a no_match too, alone
is(sf_contacts()->{$john}{Last_Batch_Sync_Id__c}, $bid,
   'the no_match contact the batch touched is marked too');
my ($jm) = grep { $_->{path} =~ /\Q$john\E$/ }
           @{ sf_requests(method => 'PATCH') };
is_deeply([ sort keys %{ JSON::PP->new->decode($jm->{body}) } ],
          [ 'Last_Batch_Sync_Id__c' ], 'with that field alone');

# "If the contact is already linked to a patient, the contact will be
#  skipped. Where multiple demographics matches are found, the contact
#  will be skipped"
my ($ca, $cb) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Twin', LastName => 'Twice', Birthdate => '1977-07-07' },
    { FirstName => 'Other', LastName => 'Person', Birthdate => '1960-01-01' },
]) };
seed_patients(
    fixture_patient(id => 'pat-t1', first_name => 'Twin', last_name => 'Twice',
                    dob => '1977-07-07'),
    fixture_patient(id => 'pat-t2', first_name => 'TWIN', last_name => 'twice',
                    dob => '1977-07-07'),
    fixture_patient(id => 'pat-op', first_name => 'Other',
                    last_name => 'Person', dob => '1960-01-01'));
# pat-op is already linked to another contact
fake_post('/__fake/salesforce/contacts', [ { FirstName => 'X', LastName => 'Y',
    Synced_To_Hint__c => JSON::PP::true, Hint_Patient_Id__c => 'pat-op' } ]);
my $csv = "$env->{dir}/more.csv";
open my $fh, '>', $csv or die;
print $fh "\xEF\xBB\xBF\"Contact ID\"\r\n\"$maria\"\r\n\"$ca\"\r\n\"$cb\"\r\n";
close $fh;
($rc, $out) = worker_cmd($conf, 'batch', 'crm-to-hint', '--csv', $csv);
my $b2 = batch_id($out);
wait_batch($b2);
($rc, $report, $out) = report($b2);
is($report->{$maria}{status}, 'skipped', 'already linked: skipped');
is(sf_contacts()->{$maria}{Last_Batch_Sync_Id__c}, $b2,
   'a skipped contact is marked with the batch that touched it');
is(sf_contacts()->{$ca}{Last_Batch_Sync_Id__c}, $b2,
   'the several-matches one too');
is($report->{$ca}{status}, 'skipped', 'several matches: skipped');
is($report->{$cb}{status}, 'skipped', 'the match is linked to another '
   . 'contact: skipped');
ok(!sf_contacts()->{$ca}{Hint_Patient_Id__c}, 'nothing linked');

# ---- "Abort Batch": stops between items
is(stop_worker($pid), 0, 'worker stopped');
($rc, $out) = worker_cmd($conf, 'batch', 'crm-to-hint', '--csv', $fixture);
my $b3 = batch_id($out);
my $nsearch = @{ hint_requests(method => 'GET', path => qr/patients$/) };
($rc, $out) = worker_cmd($conf, 'batch', 'abort', $b3);
is($rc, 0, "batch abort: $out");
$pid = start_worker($conf);
wait_batch($b3);
($rc, $report) = report($b3);
is($report->{$john}{status}, 'skipped', 'aborted before the item: skipped');
like($report->{$john}{rest}, qr/abort/i, 'says so');
is(scalar @{ hint_requests(method => 'GET', path => qr/patients$/) },
   $nsearch, 'no Hint search after the abort');
is(stop_worker($pid), 0, 'worker stopped');

# ---- "Batch Syncing Hint Patients to Salesforce Contacts": every patient,
#      100 a page
fake_post('/__fake/reset', {});
# the audit trail from here on, as the fakes' requests
my $last = redis()->cmd('XREVRANGE', '{caresync}:audit', '+', '-', 'COUNT', 1);
my $audit_from = @$last ? "($last->[0][0]" : '-';
my @pts = map { fixture_patient(id => sprintf('pat-all%03d', $_),
                                first_name => "P$_", last_name => 'Many',
                                dob => '1990-01-01') } 1 .. 118;
push @pts, fixture_patient(id => 'pat-match', first_name => 'Ana',
                           last_name => 'Silva', dob => '1966-06-06',
                           email => undef);
push @pts, fixture_patient(id => 'pat-taken', first_name => 'Bo',
                           last_name => 'Taken', dob => '1955-05-05');
seed_patients(@pts);
my ($cm, $ct) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Ana', LastName => 'Silva', Birthdate => '1966-06-06',
      Email => 'ana@crm.example', MailingCity => 'Salem' },
    { FirstName => 'Bo', LastName => 'Taken', Birthdate => '1955-05-05',
      Synced_To_Hint__c => JSON::PP::true, Hint_Patient_Id__c => 'pat-else' },
]) };
($rc, $out, $err) = worker_cmd($conf, 'batch', 'hint-to-crm');
is($rc, 0, 'batch hint-to-crm: queued') or diag $err;
like($out, qr/120 patients/, "every patient: $out");
my $pages = hint_requests(method => 'GET', path => qr/patients$/);
is(scalar @$pages, 2, 'two pages');
like($pages->[0]{query}, qr/limit=100&offset=0/, 'first page of 100');
like($pages->[1]{query}, qr/limit=100&offset=100/, 'second page');
my $b4 = batch_id($out);
$pid = start_worker($conf);
wait_batch($b4);
($rc, $report, $out) = report($b4);
like($out, qr/^patient_id,status,message,job_id,crm_contact_id\r\n/,
     'hint-to-crm: the first column holds patient ids, the last contacts');
like($out, qr/^pat-match,linked,[^\r]*,\Q$cm\E\r$/m,
     'the linked patient\'s row names its contact');
my ($j1) = $out =~ /^pat-all001,no_match,.*,(b\w+-\d+),\r$/m;
is($j1 && job_status($j1)->{hint_patient_id}, 'pat-all001',
   'an item\'s status record names its patient');
is($report->{'pat-match'}{status}, 'linked', 'exact match: linked');
is($report->{'pat-taken'}{status}, 'skipped', 'match linked to another '
   . 'patient: skipped');
is($report->{'pat-all001'}{status}, 'no_match', '"create new contact" off: '
   . 'no_match');
is(scalar(grep { $_->{status} eq 'no_match' } values %$report), 118,
   '118 no_match');
$c = sf_contacts()->{$cm};
is($c->{Hint_Patient_Id__c}, 'pat-match', 'linked to the patient');
is($c->{MailingCity}, 'Portland', 'patient wins the conflicts');
is($c->{Last_Batch_Sync_Id__c}, $b4, 'batch id on the contact');
is(hint_patients()->{'pat-match'}{email}, 'ana@crm.example',
   'blank patient email filled from the contact');
is(stop_worker($pid), 0, 'worker stopped');

# "the 'Create new contact when no demographic match found in Salesforce'
#  checkbox is used to control whether a new contact will be created"
my $on = write_config('hint.batch_create_contacts' => 'on');
($rc, $out) = worker_cmd($on, 'batch', 'hint-to-crm');
my $b5 = batch_id($out);
$pid = start_worker($on);
wait_batch($b5);
($rc, $report) = report($b5);
is($report->{'pat-all001'}{status}, 'created', 'option on: created');
is(scalar(grep { $_->{status} eq 'created' } values %$report), 118,
   '118 contacts created');
is($report->{'pat-match'}{status}, 'skipped', 'already linked and equal: '
   . 'skipped');
is(sf_contacts()->{$cm}{Last_Batch_Sync_Id__c}, $b5,
   'its contact, touched, now carries this batch\'s id');
my ($n1) = grep { ($_->{Hint_Patient_Id__c} // '') eq 'pat-all001' }
           values %{ sf_contacts() };
ok($n1 && $n1->{Synced_To_Hint__c}, 'the new contact is linked');
is($n1->{Last_Batch_Sync_Id__c}, $b5, 'and carries the batch id');
is(stop_worker($pid), 0, 'worker stopped');

# every write the last two batches made, to Salesforce and to Hint, is
# one entry of the audit trail (the worker stopped: all flushed)
my @writes = grep { $_->{kind} eq 'write' } map { +{ @{ $_->[1] } } }
             @{ redis()->cmd('XRANGE', '{caresync}:audit', $audit_from, '+') };
my $sf_w = grep { $_->{method} ne 'GET' && $_->{path} !~ m{oauth2/token} }
           @{ sf_requests() };
my $hint_w = grep { $_->{method} ne 'GET' } @{ hint_requests() };
ok($sf_w > 0 && $hint_w > 0, "writes to both ($sf_w, $hint_w)");
is(scalar(grep { $_->{target} =~ m{^salesforce/} } @writes), $sf_w,
   'one audit entry per Salesforce write');
is(scalar(grep { $_->{target} =~ m{^hint/} } @writes), $hint_w,
   'one audit entry per Hint write');

done_testing();
