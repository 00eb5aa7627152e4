# Transient vs permanent failures, Retry-After, bounded retries, the
# dead-letter queue and its replay, token refresh.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Caresync::Worker;

my $env = start_env();
my $conf = write_config('http.timeout_ms' => 1000,
                        'worker.max_attempts' => 3,
                        'worker.backoff_base_ms' => 100,
                        'worker.backoff_max_ms' => 300);

my %c;
for my $k (qw(ra 5xx always bad401 badreq refresh limit trunc nonjson slow
              twice401)) {
    ($c{$k}) = @{ fake_post('/__fake/salesforce/contacts',
                            [{ LastName => "C$k",
                               HelpAround_Patient_Id__c => "ha-$k" }]) };
}

my $q = sub { my ($k) = @_; "/query.*ha-$k\\b" };
fake_post('/__fake/inject', [
    { app => 'salesforce', path => $q->('ra'), times => 1, status => 429,
      json => [{ message => 'slow down', errorCode => 'TOO_MANY' }],
      headers => { 'Retry-After' => '2' } },
    { app => 'salesforce', path => $q->('5xx'), times => 2, status => 503,
      body => '<html>Service Unavailable</html>' },
    { app => 'salesforce', path => $q->('always'), times => -1, status => 500,
      json => [{ message => 'boom', errorCode => 'UNKNOWN_EXCEPTION' }] },
    { app => 'salesforce', method => 'PATCH', path => "/Contact/$c{badreq}\$",
      times => -1, status => 400,
      json => [{ message => 'Last Tracker View At: invalid date: 2026-99',
                 errorCode => 'INVALID_TYPE_ON_FIELD_IN_RECORD',
                 fields => ['Last_Tracker_View_At__c'] }] },
    { app => 'salesforce', path => $q->('limit'), times => 1, status => 403,
      json => [{ message => 'TotalRequests Limit exceeded.',
                 errorCode => 'REQUEST_LIMIT_EXCEEDED' }] },
    { app => 'salesforce', path => $q->('trunc'), times => 1, status => 200,
      json => { totalSize => 1, done => JSON::PP::true, records => [] },
      truncate => 1 },
    { app => 'salesforce', path => $q->('nonjson'), times => 1, status => 200,
      body => '<html>maintenance</html>' },
    { app => 'salesforce', path => $q->('slow'), times => 1, status => 200,
      latency_ms => 2000, json => { totalSize => 0, done => JSON::PP::true,
                                    records => [] } },
    { app => 'salesforce', path => $q->('twice401'), times => 2, status => 401,
      json => [{ message => 'Session expired or invalid',
                 errorCode => 'INVALID_SESSION_ID' }] },
]);

my %job;
$job{$_} = seed_job(user_action_job(source_id => "ha-$_"))
    for qw(ra 5xx always badreq limit trunc nonjson slow twice401);

my $t0 = time;
my ($pid, $log) = start_worker($conf);

my $st = wait_status($job{'5xx'}, [qw(updated failed)]);
is($st->{status}, 'updated', '503 twice, then success');
is($st->{attempts}, 3, '... on the third attempt');
like($st->{last_error}, qr/HTTP 503/, '... last_error kept');

$st = wait_status($job{always}, [qw(updated failed)]);
is($st->{status}, 'failed', '500 every time: failed');
is($st->{attempts}, 3, '... after max_attempts');
like($st->{last_error}, qr/gave up after 3 attempts: .*HTTP 500/,
     '... last error says so');
is(scalar(grep { $_->{query} =~ /ha-always\b/ }
          @{ sf_requests(method => 'GET', path => qr{/query$}) }), 3,
   'exactly 3 tries, bounded');

$st = wait_status($job{badreq}, [qw(updated failed)]);
is($st->{status}, 'failed', '400 on the update: failed');
is($st->{attempts}, 1, '... not retried');
like($st->{last_error}, qr/INVALID_TYPE_ON_FIELD_IN_RECORD on Last_Tracker_View_At__c/,
     '... says what to fix');
unlike($st->{last_error}, qr/2026-99/, '... without echoing the value');
is(scalar(grep { $_->{path} =~ /$c{badreq}$/ }
          @{ sf_requests(method => 'PATCH') }), 1, 'one PATCH only');

$st = wait_status($job{limit}, [qw(updated failed)]);
is($st->{status}, 'updated', 'REQUEST_LIMIT_EXCEEDED: retried, then updated');
like($st->{last_error}, qr/REQUEST_LIMIT_EXCEEDED/, '... recorded');

$st = wait_status($job{trunc}, [qw(updated failed)]);
is($st->{status}, 'updated', 'truncated body: retried, then updated');
$st = wait_status($job{nonjson}, [qw(updated failed)]);
is($st->{status}, 'updated', 'non-JSON 200: retried, then updated');
like($st->{last_error}, qr/not JSON/, '... recorded');
$st = wait_status($job{slow}, [qw(updated failed)]);
is($st->{status}, 'updated', 'timeout: retried, then updated');
like($st->{last_error}, qr/did not answer in time/, '... recorded');

$st = wait_status($job{twice401}, [qw(updated failed)]);
is($st->{status}, 'failed', '401 after a refresh: failed, not retried');
is($st->{attempts}, 1, '... one attempt');
like($st->{last_error}, qr/refused the session after a token refresh/,
     '... says so');

$st = wait_status($job{ra}, [qw(updated failed)]);
is($st->{status}, 'updated', '429: retried, then updated');
my @ra = grep { $_->{query} =~ /ha-ra\b/ }
         @{ sf_requests(method => 'GET', path => qr{/query$}) };
is(scalar @ra, 2, '... two queries');
my $gap = $ra[1]{t} - $ra[0]{t};
ok($gap >= 1.9 && $gap < 5, sprintf('Retry-After: 2 honoured (%.2fs)', $gap));

# token revoked: 401 INVALID_SESSION_ID -> one refresh -> success
my $ntok = @{ sf_requests(path => qr{oauth2/token}) };
fake_post('/__fake/salesforce/revoke');
my $r = seed_job(user_action_job(source_id => 'ha-refresh'));
$st = wait_status($r, [qw(updated failed)]);
is($st->{status}, 'updated', 'revoked token: refreshed, then updated');
is($st->{attempts}, 1, '... within the same attempt');
is(scalar @{ sf_requests(path => qr{oauth2/token}) }, $ntok + 1,
   '... with one token request');

# the dead-letter queue: list and replay
my ($rc, $out) = worker_cmd($conf, 'dlq', 'list');
is($rc, 0, 'dlq list');
like($out, qr/ \Q$job{always}\E type=helparound.user_action attempts=3 .*gave up/,
     '... shows the exhausted job');
like($out, qr/ \Q$job{badreq}\E .*INVALID_TYPE_ON_FIELD/, '... and the permanent one');

fake_post('/__fake/reset');
fake_post('/__fake/salesforce/contacts',
          [{ Id => $c{always}, LastName => 'X',
             HelpAround_Patient_Id__c => 'ha-always' },
           { Id => $c{badreq}, LastName => 'Y',
             HelpAround_Patient_Id__c => 'ha-badreq' }]);

($rc, $out) = worker_cmd($conf, 'dlq', 'replay', $job{always});
is($rc, 0, 'dlq replay <id>');
like($out, qr/replayed \Q$job{always}\E/, '... says so');
$st = wait_status($job{always}, [qw(updated)]);
is($st->{status}, 'updated', 'replayed job succeeds');
is($st->{attempts}, 1, '... attempts started over');

($rc, $out) = worker_cmd($conf, 'dlq', 'replay', 'no-such-job');
is($rc, 1, 'replay of an unknown id fails');

($rc, $out) = worker_cmd($conf, 'dlq', 'replay', '--all');
is($rc, 0, 'dlq replay --all');
$st = wait_status($job{badreq}, [qw(updated)]);
is($st->{status}, 'updated', 'the fixed job succeeds');
is(redis()->cmd('XLEN', '{caresync}:dead'), 0, 'dead-letter queue empty');
is(redis()->cmd('ZCARD', '{caresync}:retry'), 0, 'no retries left waiting');

is(stop_worker($pid, 'TERM'), 0, 'clean exit');
ok(time - $t0 < 50, 'bounded in time');

done_testing();
