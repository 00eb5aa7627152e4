# The Bulk Sync Flow (seed 000 §4, sync-rules.md §B "Bulk"): a batch from
# the Salesforce report export, its counts, per-contact results and
# report, Last_Batch_Sync_Id__c on the contacts it updated, an error in
# the middle, abort between items, and the caps on HealthSherpa.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Caresync::Worker;

my $env = start_env();
my $report = fixture_path('salesforce/report-export.csv');
# the report's two ids: John Doe (HealthSherpa knows him), Maria Lopez
my $hs = seed_report_export();

my $conf = write_config();

sub batch_counts {
    my ($id) = @_;
    return { @{ redis()->cmd('HGETALL', "{caresync}:batch:$id") } };
}

sub wait_batch {
    my ($id, $t) = @_;
    wait_for(sub { my $b = batch_counts($id);
                   defined $b->{pending} && $b->{pending} == 0 }, $t // 20);
    return batch_counts($id);
}

# ---- the report fixture ----
my ($rc, $out, $err) = worker_cmd($conf, 'batch', 'healthsherpa', '--csv',
                                  $report);
is($rc, 0, 'batch healthsherpa --csv report-export.csv') or diag $err;
my ($id) = $out =~ /^batch (\S+) queued: 2 contacts \(4 rows ignored/m;
ok($id, 'two contacts queued, the cut id and the footer ignored') or diag $out;

my $pid = start_worker($conf);
my $b = wait_batch($id);
is($b->{matched}, 1, 'matched 1');
is($b->{no_match}, 1, 'no_match 1');
is($b->{failed}, 0, 'failed 0');
is($b->{pending}, 0, 'pending 0');
is($b->{total}, 2, 'total 2');
is($b->{ignored}, 4, 'ignored 4 (cut id, totals, notice, copyright)');

my $c = sf_contacts();
is($c->{'003Hs00001AbCdEIAV'}{Last_Batch_Sync_Id__c}, $id,
   'Last_Batch_Sync_Id__c on the matched contact');
is($c->{'003Hs00001AbCdEIAV'}{HealthSherpa_Contact_Id__c}, $hs->{id},
   '... with its HealthSherpa id');
ok(!$c->{'003Hs00001XyZwVIAV'}{Last_Batch_Sync_Id__c},
   'the unmatched contact is not written');

for my $k ('', ':items', ':results') {
    my $ttl = redis()->cmd('TTL', "{caresync}:batch:$id$k");
    ok($ttl > 0 && $ttl <= 2592000, "{caresync}:batch:<id>$k expires ($ttl s)");
}

($rc, $out) = worker_cmd($conf, 'batch', 'status', $id);
is($rc, 0, 'batch status');
like($out, qr/^batch \Q$id\E healthsherpa: 2\/2 done, matched 1, no_match 1, failed 0, skipped 0, pending 0; 4 rows ignored; finished$/m,
     '... one line with the counts') or diag $out;

($rc, $out) = worker_cmd($conf, 'batch', 'report', $id);
is($rc, 0, 'batch report');
my @lines = split /\r\n/, $out;
is($lines[0], 'contact_id,status,message,job_id,healthsherpa_contact_id',
   'report header');
like($lines[1], qr/^003Hs00001AbCdEIAV,matched,Synced from HealthSherpa,\Q$id\E-000001,\Q$hs->{id}\E$/,
     'report: the match');
like($lines[2], qr/^003Hs00001XyZwVIAV,no_match,No matching HealthSherpa contact found,\Q$id\E-000002,$/,
     'report: the miss');

# ---- matches, misses and an error; the CSV reader's edge cases ----
my ($m2, $miss2, $bare, $err2) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'John', LastName => 'Doe', Email => 'john.doe@example.org' },
    # Salesforce takes 15-character ids too; the fake knows this one so
    { Id => '003Hs00001Ann15', FirstName => 'Ann', LastName => 'Other', Phone => '2025550100' },
    { FirstName => 'Only', LastName => 'Name' },
    { LastName => 'Err', Medicare_Number__c => '9XX9XX9XX99' } ]) };
# the last one meets a HealthSherpa failure that is not retried
fake_post('/__fake/inject', { app => 'healthsherpa', times => -1,
                              path => '.', status => 403,
                              json => { error => { code => 'forbidden',
                                                   message => 'no' } },
                              match_body => '9XX9XX9XX99' });
my $csv = "$env->{dir}/edge.csv";
open my $fh, '>', $csv or die;
# no BOM, LF endings, quoted commas and an embedded line break, a
# 15-character id, a repeat, spaces around an id, trailing text
my $id15 = $miss2;
print $fh qq{"Id","Name, full","Notes"\n};
print $fh qq{$m2,"Doe, John","line one\nline two"\n};
print $fh qq{ $id15 ,"Other, Ann",""\n};
print $fh qq{"$bare",Only Name,x\n};
print $fh qq{$m2,"Doe, John",again\n};
print $fh qq{$err2,Err,"say ""hi"""\n\n};
print $fh qq{"Grand Totals (4 records)"\n};
close $fh;

($rc, $out, $err) = worker_cmd($conf, 'batch', 'healthsherpa', '--csv', $csv);
is($rc, 0, 'batch of the edge-case CSV') or diag $err;
my ($id2) = $out =~ /^batch (\S+) queued: 4 contacts \(1 rows ignored, 1 duplicates\)/m;
ok($id2, '4 ids: quotes, embedded newline, 15-char id, repeat dropped')
    or diag $out;
$b = wait_batch($id2);
is($b->{matched}, 1, 'matched 1') or diag explain $b;
is($b->{no_match}, 1, 'no_match 1');
is($b->{failed}, 2, 'failed 2 (no search parameters; HealthSherpa 403)');
($rc, $out) = worker_cmd($conf, 'batch', 'report', $id2);
like($out, qr/^\Q$bare\E,failed,"?Invalid search parameters: a Medicare number/m,
     'report: the failure says why');
like($out, qr/^\Q$err2\E,failed,HealthSherpa authentication failed/m,
     'report: the auth failure');
like($out, qr/^\Q$id15\E,no_match,/m, 'report: the 15-character id');
is(stop_worker($pid), 0, 'worker stopped');

# ---- abort mid-batch, at a capped rate ----
fake_post('/__fake/reset', {});
fake_post('/__fake/healthsherpa/contacts', [ $hs ]);
my @ids = @{ fake_post('/__fake/salesforce/contacts', [
    map { { FirstName => 'P', LastName => "N$_", Email => "p$_\@example.org" } }
    1 .. 40 ]) };
open $fh, '>', "$env->{dir}/many.csv" or die;
print $fh "Id\r\n", map { "$_\r\n" } @ids;
close $fh;
$conf = write_config('healthsherpa.rps' => 10,
                     'healthsherpa.max_concurrency' => 2);
($rc, $out) = worker_cmd($conf, 'batch', 'healthsherpa', '--csv',
                         "$env->{dir}/many.csv");
my ($id3) = $out =~ /^batch (\S+) queued: 40 contacts/m;
ok($id3, '40 contacts queued');
my $t0 = time;
$pid = start_worker($conf);
wait_for(sub { (batch_counts($id3)->{no_match} // 0) >= 8 }, 15);
($rc, $out) = worker_cmd($conf, 'batch', 'abort', $id3);
is($rc, 0, 'batch abort');
like($out, qr/aborting/, '... says so');
$b = wait_batch($id3, 20);
is($b->{pending}, 0, 'aborted batch drains');
ok($b->{skipped} > 0, "items after the abort skipped ($b->{skipped})");
ok($b->{no_match} < 40, "... not all searched ($b->{no_match})");
is($b->{no_match} + $b->{skipped}, 40, 'every item accounted for');
my $hsr = fake_get('/__fake/requests?app=healthsherpa');
my $secs = $hsr->[-1]{t} - $hsr->[0]{t};
ok(@$hsr <= 1 + 10 * $secs + 10, sprintf('rate cap: %d searches in %.1f s',
                                      scalar @$hsr, $secs));
# the fake counts a request until its thread returns, a moment after the
# answer left: the next request may already be in, so one more can show
cmp_ok(fake_get('/__fake/stats')->{max_inflight}{healthsherpa}, '<=', 3,
   'concurrency cap: at most 2 in flight (+1 for the fake\'s counting)');
is(stop_worker($pid), 0, 'worker stopped');

# ---- --where: the contacts of a SOQL condition ----
fake_post('/__fake/reset', {});
fake_post('/__fake/healthsherpa/contacts', [ $hs ]);
my ($w1, $w2) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'John', LastName => 'Doe', Birthdate => '1955-03-01' },
    { FirstName => 'Jane', LastName => 'Doe', Birthdate => '1956-04-02' },
    { FirstName => 'Not', LastName => 'Selected', Birthdate => '1956-04-02' } ]) };
($rc, $out, $err) = worker_cmd($conf, 'batch', 'healthsherpa', '--where',
                               "LastName = 'Doe'");
is($rc, 0, 'batch healthsherpa --where') or diag $err;
my ($id4) = $out =~ /^batch (\S+) queued: 2 contacts/m;
ok($id4, '... the two contacts of the condition') or diag $out;
$pid = start_worker($conf);
$b = wait_batch($id4);
is("$b->{matched}/$b->{no_match}", '1/1', '... matched 1, no_match 1');
is(stop_worker($pid), 0, 'worker stopped');
($rc, $out, $err) = worker_cmd($conf, 'batch', 'healthsherpa', '--where',
                               "NoSuchField__c = 'x'");
is($rc, 1, 'a condition the CRM refuses: exit 1');
like($err, qr/refused the condition/, '... says so');

# ---- the report opens in a spreadsheet as text, never as a formula ----
fake_post('/__fake/reset', {});
my $formula = '=HYPERLINK("http://evil.example/x","open")';
fake_post('/__fake/healthsherpa/contacts', [ { %$hs, id => $formula } ]);
my ($f1) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'John', LastName => 'Doe', Birthdate => '1955-03-01' } ]) };
open $fh, '>', "$env->{dir}/formula.csv" or die;
print $fh "Id\r\n$f1\r\n";
close $fh;
($rc, $out) = worker_cmd($conf, 'batch', 'healthsherpa', '--csv',
                         "$env->{dir}/formula.csv");
my ($id5) = $out =~ /^batch (\S+) queued: 1 contacts/m;
ok($id5, 'a batch meeting a HealthSherpa id that is a formula');
$pid = start_worker($conf);
$b = wait_batch($id5);
is($b->{matched}, 1, '... matched');
is(stop_worker($pid), 0, 'worker stopped');
($rc, $out) = worker_cmd($conf, 'batch', 'report', $id5);
@lines = split /\r\n/, $out;
is($lines[1], qq{$f1,matched,Synced from HealthSherpa,$id5-000001,}
              . q{"'=HYPERLINK(""http://evil.example/x"",""open"")"},
   'report: the cell starts with a quote (text), the value kept')
    or diag $out;
unlike($out, qr/(?:^|,)"?[=+\-\@\t]/m, '... no cell starts a formula');

# ---- on a terminal: the line redrawn in place (script(1) gives a tty) ----
SKIP: {
    skip 'script(1) is not installed', 1
        unless system('sh', '-c', 'command -v script >/dev/null') == 0;
    my $cmd = Caresync::Worker::worker_bin() . " batch status $id --config $conf";
    my $tty = `script -qec '$cmd' /dev/null`;
    like($tty, qr/^\r?\rbatch \Q$id\E .*finished\e\[K\r?\n/m,
         'status on a terminal: \\r, the line, erase to the end')
        or diag explain $tty;
}

($rc, $out, $err) = worker_cmd($conf, 'batch', 'status', 'nope');
is($rc, 1, 'status of an unknown batch: exit 1');
($rc) = worker_cmd($conf, 'batch', 'healthsherpa');
is($rc, 2, 'no --csv: usage');
done_testing();
