# helparound.user_action end to end: Redis -> worker -> fake Salesforce.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Caresync::Worker;

my $env = start_env();
my $conf = write_config();

# no stream, no group before the worker runs
my $g = redis()->cmd('XINFO', 'GROUPS', '{caresync}:jobs');
ok(ref $g eq 'HASH' && $g->{error}, 'no stream before the first run');

my $ids = fake_post('/__fake/salesforce/contacts', [
    { LastName => 'One', HelpAround_Patient_Id__c => 'ha-100' },
    { LastName => 'Two', HelpAround_Patient_Id__c => 'ha-200',
      Last_Tracker_View_At__c => '2026-11-21T10:00:00.123Z' },
    { LastName => 'Three', HelpAround_Patient_Id__c => 'ha-300' },
    { LastName => 'Dup', HelpAround_Patient_Id__c => 'ha-dup' },
    { LastName => 'Dup', HelpAround_Patient_Id__c => 'ha-dup' },
    { LastName => "O'Quote", HelpAround_Patient_Id__c => "ha-q'\\1" },
]);
my ($c1, $c2, $c3, undef, undef, $cq) = @$ids;

# a job queued before any worker exists is still processed (group at 0)
my $early = seed_job(user_action_job(source_id => 'ha-100'));

my ($pid, $log) = start_worker($conf);

ok(wait_for(sub {
    my $x = redis()->cmd('XINFO', 'GROUPS', '{caresync}:jobs');
    ref $x eq 'ARRAY' && @$x && grep { $_ eq 'workers' } @{ $x->[0] } }, 10),
   'consumer group `workers` created');

my $st = wait_status($early, [qw(updated failed)]);
is($st->{status}, 'updated', 'job queued before the group: updated')
    or diag explain $st;
is($st->{crm_contact_id}, $c1, 'status names the contact');
is($st->{attempts}, 1, 'one attempt');
ok($st->{updated_at}, 'updated_at set');
my $ttl = redis()->cmd('TTL', "{caresync}:job:$early");
ok($ttl > 29 * 86400 && $ttl <= 30 * 86400, "status expires in 30 days ($ttl)");

my $contacts = sf_contacts();
is($contacts->{$c1}{Last_Tracker_View_At__c}, '2026-11-21T10:00:00.123+0000',
   'Last_Tracker_View_At__c set on the right contact');
ok(!$contacts->{$c3}{Last_Tracker_View_At__c}, 'other contact untouched');

my $q = sf_requests(method => 'GET', path => qr{/query$});
like($q->[0]{query}, qr/HelpAround_Patient_Id__c\+?%3D|HelpAround_Patient_Id__c%20%3D/,
     'found by SOQL on HelpAround_Patient_Id__c');
my $tok = fake_get('/__fake/requests?app=salesforce');
is($tok->[0]{path}, '/services/oauth2/token', 'OAuth first');
like($tok->[0]{body}, qr/grant_type=client_credentials/, 'client_credentials');
my $patch = sf_requests(method => 'PATCH');
is(scalar @$patch, 1, 'one PATCH');
is($patch->[0]{path}, "/services/data/v60.0/sobjects/Contact/$c1",
   'PATCH of that contact');
is_deeply(JSON::PP->new->decode($patch->[0]{body}),
          { Last_Tracker_View_At__c => '2026-11-21T10:00:00.123Z' },
          'only the differing field is written');

# already equal -> skipped, no write
my $n_patch = @{ sf_requests(method => 'PATCH') };
my $skip = seed_job(user_action_job(source_id => 'ha-200'));
$st = wait_status($skip, [qw(skipped updated failed)]);
is($st->{status}, 'skipped', 'same time already there: skipped');
is(scalar @{ sf_requests(method => 'PATCH') }, $n_patch, 'no PATCH sent');

# unknown patient -> no_match, nothing created
my $nm = seed_job(user_action_job(source_id => 'ha-nobody'));
$st = wait_status($nm, [qw(no_match failed updated)]);
is($st->{status}, 'no_match', 'unknown patient: no_match');
ok($st->{message}, "message for the CRM user: $st->{message}");
is(scalar @{ sf_requests(method => 'POST', path => qr{sobjects}) }, 0,
   'no contact created');

# by contact id in externalId
my $byid = seed_job(user_action_job(source_id => 'ha-300', external_id => $c3,
                                    at => '2026-11-21T11:00:00Z'));
$st = wait_status($byid, [qw(updated failed no_match)]);
is($st->{status}, 'updated', 'externalId is a contact id: updated');
ok(@{ sf_requests(method => 'GET', path => qr{/sobjects/Contact/$c3$}) },
   'read by id');
is(sf_contacts()->{$c3}{Last_Tracker_View_At__c},
   '2026-11-21T11:00:00.000+0000', 'set on that contact');

# stale contact id: falls back to the HelpAround id
my $stale = seed_job(user_action_job(source_id => 'ha-100',
                                     external_id => '003000000000000AAA',
                                     at => '2026-11-21T12:00:00Z'));
$st = wait_status($stale, [qw(updated failed no_match)]);
is($st->{status}, 'updated', 'stale contact id: found by HelpAround id');
is($st->{crm_contact_id}, $c1, '... the right contact');

# duplicates: never guess
my $dup = seed_job(user_action_job(source_id => 'ha-dup'));
$st = wait_status($dup, [qw(failed updated)]);
is($st->{status}, 'failed', 'two contacts match: failed');
like($st->{last_error}, qr/2 CRM contacts match/, 'says why');

# SOQL escaping: a quote and a backslash in the id
my $quoted = seed_job(user_action_job(source_id => "ha-q'\\1"));
$st = wait_status($quoted, [qw(updated failed no_match)]);
is($st->{status}, 'updated', 'quote and backslash escaped in SOQL');
is($st->{crm_contact_id}, $cq, '... and matched exactly');

# unknown type -> dead-letter with a clear error
my $unk = seed_job(user_action_job(type => 'helparound.teleport'));
$st = wait_status($unk, [qw(failed)]);
is($st->{status}, 'failed', 'unknown type: failed');
like($st->{last_error}, qr/no handler for job type `helparound.teleport`/,
     'clear error');
my $dead = redis()->cmd('XRANGE', '{caresync}:dead', '-', '+');
my %d = @{ $dead->[-1][1] };
is($d{job_id}, $unk, 'in the dead-letter stream');
like($d{error}, qr/no handler/, 'with its error');

# malformed envelope
redis()->cmd('XADD', '{caresync}:jobs', '*', 'job', '{not json');
ok(wait_for(sub { grep { grep { /is not a JSON object/ } @{ $_->[1] } }
                    @{ redis()->cmd('XRANGE', '{caresync}:dead', '-', '+') } }, 10),
   'malformed envelope dead-lettered');

# acknowledged entries are deleted; nothing pending
ok(wait_for(sub {
    my $p = redis()->cmd('XPENDING', '{caresync}:jobs', 'workers');
    $p->[0] == 0 && redis()->cmd('XLEN', '{caresync}:jobs') == 0 }, 10),
   'stream drained: acked and deleted, nothing pending');

# jobs show
my ($rc, $out, $err) = worker_cmd($conf, 'jobs', 'show', $early);
is($rc, 0, 'jobs show exits 0');
like($out, qr/^status: updated$/m, 'jobs show prints the status');
like($out, qr/^crm_contact_id: $c1$/m, '... and the contact id');
($rc, $out, $err) = worker_cmd($conf, 'jobs', 'show', 'nope');
is($rc, 1, 'jobs show of an unknown id exits 1');
like($err, qr/no status record/, '... with a message');

# log --level
($rc, $out) = worker_cmd($conf, 'log', '--level', 'error');
is($rc, 0, 'log exits 0');
unlike($out, qr/ debug /, 'no debug lines at --level error');
like($out, qr/ exception job failed job_id=$unk/, 'the failure is logged');
($rc, $out) = worker_cmd($conf, 'log', '--since', '1h');
like($out, qr/ debug job done job_id=$early/, 'debug lines with --since 1h');
($rc, $out) = worker_cmd($conf, 'log', '--since', '2999-01-01T00:00:00Z');
is($out, '', 'nothing logged in the future');

# no PHI and no secrets in the logs (stderr and the stream), which hold
# the lines of the jobs of those contacts
my @named = ($early, $byid, $quoted);
no_phi_in_log(name => 'no secrets', files => [$log], stream => $conf,
              jobs => \@named, pattern => qr/fake-client-secret|00Dfake!/);
no_phi_in_log(name => 'no names', files => [$log], stream => $conf,
              jobs => \@named, pattern => qr/O'Quote|One|Three/);

# check
($rc, $out, $err) = worker_cmd($conf, 'check');
is($rc, 0, 'check passes') or diag "$out$err";
like($out, qr/^salesforce: ok/m, 'check: salesforce');
like($out, qr/^redis: ok/m, 'check: redis');
like($out, qr/^hint: ok/m, 'check: hint');
like($out, qr/^healthsherpa: ok/m, 'check: healthsherpa');

my $bad = write_config('salesforce.client_secret_env' => undef,
                       'salesforce.client_secret' => 'wrong',
                       'redis.port' => 1);
($rc, $out, $err) = worker_cmd($bad, 'check');
is($rc, 1, 'check fails with bad settings');
like($out, qr/^redis: FAIL cannot connect/m, 'redis problem named');
like($out, qr/^salesforce: FAIL .*invalid_client/m, 'salesforce problem named') or diag $out;

my $broken = write_config('worker.concurrency' => 'lots');
($rc, $out, $err) = worker_cmd($broken, 'check');
is($rc, 1, 'bad config: exit 1');
like($err, qr/worker\.concurrency must be an integer/, 'config error named');

($rc, $out) = worker_cmd($conf, 'run', '--help');
like($out, qr/usage: caresync-worker run/, 'run --help');

is(stop_worker($pid, 'TERM'), 0, 'SIGTERM: clean exit');

done_testing();
