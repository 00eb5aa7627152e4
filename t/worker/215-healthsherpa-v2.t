# HealthSherpa v2: OAuth authorization code (scope partner_api_v2), one
# token pair per agent, kept encrypted in Redis, refreshed before expiry
# and once on a 401, never logged; no token -> "Log in to HealthSherpa
# first" with the login URL.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;

my $env = start_env();
my $J = JSON::PP->new->canonical;
my $root = Caresync::Worker::root();
my $hs = do { local $/;
              open my $fh, '<', ($ENV{CARESYNC_FIXTURES} // "$root/../shared/fixtures")
                  . "/healthsherpa/search-match.json"
                  or die; $J->decode(<$fh>)->{data}{contact} };
fake_post('/__fake/healthsherpa/contacts', [ $hs ]);
my ($john) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'John', LastName => 'Doe', Birthdate => '1955-03-01' } ]) };

my $AGENT = 'agent@example.org';
my %v2 = ('healthsherpa.version' => 2,
          'healthsherpa.api_key' => undef,
          'healthsherpa.token_url' => "$env->{fake}/oauth/token",
          'healthsherpa.client_id' => 'fake-hs-client',
          'healthsherpa.client_secret' => 'fake-hs-secret',
          'healthsherpa.redirect_uri' => 'https://crm.example.org/hs/callback',
          'healthsherpa.token_key' => 'ab' x 32);
my $conf = write_config(%v2);

my $N = 0;
my @JOBS;
sub hs_job {
    my ($agent) = @_;
    my $id = sprintf('01HSV2JOB%05d%06d', $$ % 100000, ++$N);
    push @JOBS, $id;
    seed_job({ v => 1, id => $id, type => 'healthsherpa.sync',
               received_at => '2026-11-21T10:00:05.000Z',
               idempotency_key => 'c' x 64,
               source => { system => 'crm', event => 'healthsherpa-sync' },
               action => { contact_id => $john, agent => $agent // $AGENT } });
    return $id;
}
my $FINAL = [qw(matched no_match failed skipped)];
sub hs_req { fake_get('/__fake/requests?app=healthsherpa') }

my $pid = start_worker($conf);

# ---- no token yet ----
my $st = wait_status(hs_job(), $FINAL);
is($st->{status}, 'failed', 'no token: failed');
like($st->{message}, qr{^Log in to HealthSherpa first: https://medicare\.healthsherpa\.com/oauth/authorize\?client_id=fake-hs-client&redirect_uri=https%3A%2F%2Fcrm\.example\.org%2Fhs%2Fcallback&response_type=code&scope=partner_api_v2&state=[0-9a-f]{32}$},
     '... with the login URL') or diag explain $st;
is($st->{attempts}, 1, '... not retried');
is(scalar @{ hs_req() }, 0, '... and HealthSherpa not called');

# ---- the login: url, then exchange with the state it gave ----
my ($rc, $out, $err) = worker_cmd($conf, 'oauth', 'healthsherpa', 'url', $AGENT);
is($rc, 0, 'oauth healthsherpa url') or diag $err;
my ($state) = $out =~ /state=([0-9a-f]{32})$/m;
ok($state, '... a URL with a state');
is(redis()->cmd('GET', "{caresync}:hs:state:$state"), $AGENT,
   '... the state is bound to the agent in Redis');
my $ttl = redis()->cmd('TTL', "{caresync}:hs:state:$state");
ok($ttl > 0 && $ttl <= 600, "... and expires within 10 minutes ($ttl s)");

sub login_state {
    my ($agent) = @_;
    my ($rc, $out, $err) = worker_cmd($conf, 'oauth', 'healthsherpa', 'url',
                                      $agent // $AGENT);
    my ($s) = $out =~ /state=([0-9a-f]{32})$/m;
    return $s // die "no state: $err";
}
sub exchange {
    my ($agent, $code, $st) = @_;
    return worker_cmd($conf, 'oauth', 'healthsherpa', 'exchange', $agent,
                      $code, $st);
}
sub ntoken { scalar grep { $_->{path} eq '/oauth/token' } @{ hs_req() } }

# the state is checked before HealthSherpa sees the code
my $nt = ntoken();
($rc, $out, $err) = worker_cmd($conf, 'oauth', 'healthsherpa', 'exchange',
                               $AGENT, "fake-code-$AGENT");
is($rc, 2, 'exchange without a state: usage');
($rc, $out, $err) = exchange($AGENT, "fake-code-$AGENT", 'f' x 32);
is($rc, 1, 'a state never issued: refused');
like($err, qr/the OAuth state is unknown, expired \(it lasts 10 minutes\) or already used/,
     '... saying so');
($rc, $out, $err) = exchange($AGENT, "fake-code-$AGENT", '../../x');
is($rc, 1, 'a state that is not 32 hex digits: refused');
like($err, qr/not one this worker issued/, '... saying so');
($rc, $out, $err) = exchange('other@example.org', "fake-code-$AGENT", $state);
is($rc, 1, "another agent's state: refused");
like($err, qr/issued for another agent/, '... saying so');
ok(!redis()->cmd('EXISTS', "{caresync}:hs:state:$state"),
   '... and it cannot be tried again');
($rc, $out, $err) = exchange($AGENT, "fake-code-$AGENT", $state);
is($rc, 1, '... not even by the right agent');
like($err, qr/already used/, '... (used)');
my $old = login_state();
redis()->cmd('PEXPIRE', "{caresync}:hs:state:$old", 1);
wait_for(sub { !redis()->cmd('EXISTS', "{caresync}:hs:state:$old") }, 10);
($rc, $out, $err) = exchange($AGENT, "fake-code-$AGENT", $old);
is($rc, 1, 'an expired state: refused');
like($err, qr/expired/, '... saying so');
is(ntoken(), $nt, 'none of these reached the token endpoint');
ok(!redis()->cmd('EXISTS', "{caresync}:hs:token:$AGENT")
   && !redis()->cmd('EXISTS', '{caresync}:hs:token:other@example.org'),
   '... and no tokens were stored');

($rc, $out, $err) = exchange($AGENT, 'bad-code', login_state());
is($rc, 1, 'exchange of a bad code fails');
like($err, qr/HealthSherpa authentication failed: invalid_grant/, '... saying why');

$state = login_state();
($rc, $out, $err) = exchange($AGENT, "fake-code-$AGENT", $state);
is($rc, 0, 'exchange of the code') or diag $err;
unlike($out . $err, qr/hs-at-|hs-rt-/, '... prints no token');
my @ex = grep { my %f = @{ $_->[1] }; ($f{action} // '') eq 'oauth exchange' }
         @{ redis()->cmd('XRANGE', '{caresync}:audit', '-', '+') };
my %ex = @{ $ex[-1][1] // [] };
is($ex{agent}, $AGENT, '... audited, with the agent');
is($ex{result}, 'ok', '... and its result');
is($ex{actor}, scalar getpwuid($>), '... by the OS user who ran it');
unlike(join(' ', values %ex), qr/fake-code|hs-at-|hs-rt-|\Q$state\E/,
       '... and neither the code, a token nor the state');
$nt = ntoken();
($rc, $out, $err) = exchange($AGENT, "fake-code-$AGENT", $state);
is($rc, 1, 'the same state twice: refused');
like($err, qr/already used/, '... saying so');
is(ntoken(), $nt, '... before the token endpoint');
my $stored = redis()->cmd('GET', "{caresync}:hs:token:$AGENT");
ok(defined $stored && length $stored > 29, 'tokens stored in Redis');
unlike($stored, qr/hs-at-|hs-rt-|access_token/, '... encrypted');
my ($tok) = grep { $_->{path} eq '/oauth/token' } @{ hs_req() };
like($tok->{body}, qr/grant_type=authorization_code/, '... by the code grant');

# ---- a search as the agent ----
$st = wait_status(hs_job(), $FINAL);
is($st->{status}, 'matched', 'with a token: matched') or diag explain $st;
my ($s) = grep { $_->{path} eq '/v2/contacts/search' } @{ hs_req() };
like($s->{authorization}, qr/^Bearer hs-at-/, 'v2 search with the bearer token');
my $body = $J->decode($s->{body});
ok(!exists $body->{agent_email}, '... no agent_email');
is($body->{params}{birth_date}, '1955-03-01', '... birth_date');

# ---- a 401 (token revoked): refreshed once, the search goes through ----
fake_post('/__fake/healthsherpa/revoke', {});
fake_post('/__fake/salesforce/contacts', [ { Id => $john, FirstName => 'John',
    LastName => 'Doe', Birthdate => '1955-03-01' } ]);
$st = wait_status(hs_job(), $FINAL);
is($st->{status}, 'matched', 'after a revoke: refreshed and matched')
    or diag explain $st;
my @ref = grep { $_->{path} eq '/oauth/token'
                 && $_->{body} =~ /grant_type=refresh_token/ } @{ hs_req() };
is(scalar @ref, 1, '... one refresh');
is(stop_worker($pid), 0, 'worker stopped');

# ---- before expiry: a token with < 60 s left is refreshed first ----
fake_post('/__fake/config', { hs_token_ttl_s => 30 });
($rc) = exchange($AGENT, "fake-code-$AGENT", login_state());
is($rc, 0, 'a short-lived token');
$pid = start_worker($conf);
my $n401 = grep { $_->{path} =~ m{^/v2/} } @{ hs_req() };
$st = wait_status(hs_job(), $FINAL);
ok($st->{status} eq 'matched' || $st->{status} eq 'skipped',
   "short-lived token: refreshed, then searched ($st->{status})");
@ref = grep { $_->{path} eq '/oauth/token'
              && $_->{body} =~ /grant_type=refresh_token/ } @{ hs_req() };
is(scalar @ref, 2, '... refreshed before use, not after a 401');

# ---- refresh refused: authentication failed, not retried ----
fake_post('/__fake/healthsherpa/revoke', {});
fake_post('/__fake/inject', { app => 'healthsherpa', path => '^/oauth/token',
                              times => -1, status => 400,
                              json => { error => 'invalid_grant' } });
$st = wait_status(hs_job(), $FINAL);
is($st->{status}, 'failed', 'refresh refused: failed');
like($st->{message}, qr/^HealthSherpa authentication failed: invalid_grant/,
     '... authentication failed');
is($st->{attempts}, 1, '... not retried');
is(stop_worker($pid), 0, 'worker stopped');

# ---- a wrong token_key cannot read the stored pair ----
$pid = start_worker(write_config(%v2, 'healthsherpa.token_key' => 'cd' x 32));
$st = wait_status(hs_job(), $FINAL);
like($st->{message} // '', qr/cannot be decrypted/, 'another key: cannot decrypt');
is(stop_worker($pid), 0, 'worker stopped');

# the worker's log (stderr and the stream), proven to hold every job's
# lines; then the other processes' logs too
my $secret = qr/hs-at-|hs-rt-|fake-hs-secret/;
no_phi_in_log(name => 'no token or secret in the worker log',
              files => ["$env->{dir}/worker.log"], stream => $conf,
              jobs => \@JOBS, pattern => $secret);

# ---- agents the worker does not know: nothing kept for them ----
# (the fake as new: the refused refresh above answers no more)
fake_post('/__fake/reset', {});
fake_post('/__fake/healthsherpa/contacts', [ $hs ]);
fake_post('/__fake/salesforce/contacts', [ { Id => $john, FirstName => 'John',
    LastName => 'Doe', Birthdate => '1955-03-01' } ]);
sub nkeys { scalar @{ redis()->cmd('KEYS', $_[0]) } }
my $nstate = nkeys('{caresync}:hs:state:*');
my $ntok = nkeys('{caresync}:hs:token:*');
my $nhs = scalar @{ hs_req() };
my ($pid2, $alog) = start_worker(write_config(%v2,
    'healthsherpa.agents' => 'listed@example.org'), 'agents');
for my $i (1 .. 5) {
    $st = wait_status(hs_job("nobody$i\@example.org"), $FINAL);
    is($st->{status}, 'failed', "unknown agent $i: failed");
    is($st->{message}, 'Not a known HealthSherpa agent: list the agent in '
       . 'healthsherpa.agents, or log them in with `caresync-worker oauth '
       . 'healthsherpa url <agent>`', '... says what to do');
    is($st->{attempts}, 1, '... not retried');
}
is(nkeys('{caresync}:hs:state:*'), $nstate, '... no login state made for them');
is(nkeys('{caresync}:hs:token:*'), $ntok, '... no tokens');
is(nkeys('*nobody*'), 0, '... no key names them');
is(scalar @{ hs_req() }, $nhs, '... HealthSherpa not called');
my $alogtext = sub { local $/; open my $fh, '<', $alog or return ''; <$fh> };
unlike($alogtext->(), qr/agent token cache added/, '... no token cache entry');

# a listed agent who has not logged in: the login URL
$st = wait_status(hs_job('listed@example.org'), $FINAL);
like($st->{message}, qr/^Log in to HealthSherpa first: .*state=([0-9a-f]{32})$/,
     'a listed agent without tokens: asked to log in') or diag explain $st;
my ($lst) = $st->{message} =~ /state=([0-9a-f]{32})$/;
is(redis()->cmd('GET', "{caresync}:hs:state:$lst"), 'listed@example.org',
   '... with a state bound to them');

# an agent logged in by an operator is known by the tokens, unlisted
($rc, $out, $err) = exchange('logged@example.org', 'fake-code-logged@example.org',
                             login_state('logged@example.org'));
is($rc, 0, 'an operator logs in an agent not listed') or diag $err;
fake_post('/__fake/healthsherpa/agents',
          [ 'agent@example.org', 'logged@example.org' ]);
$st = wait_status(hs_job('logged@example.org'), $FINAL);
ok($st->{status} eq 'matched' || $st->{status} eq 'skipped',
   "a logged-in agent: searched ($st->{status})") or diag explain $st;
like($alogtext->(), qr/agent token cache added agents=2\b/,
     '... the cache holds the two known agents only');
is(stop_worker($pid2), 0, 'worker stopped');

my $log = '';
for my $f (grep { !/worker\.log$/ } glob "$env->{dir}/*.log") {
    local $/; open my $fh, '<', $f; $log .= <$fh> // '';
}
ok($log !~ $secret, 'no token or secret in the other logs');
done_testing();
