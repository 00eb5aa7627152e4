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
              open my $fh, '<', "$root/../shared/fixtures/healthsherpa/search-match.json"
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
    my $id = sprintf('01HSV2JOB%05d%06d', $$ % 100000, ++$N);
    push @JOBS, $id;
    seed_job({ v => 1, id => $id, type => 'healthsherpa.sync',
               received_at => '2026-11-21T10:00:05.000Z',
               idempotency_key => 'c' x 64,
               source => { system => 'crm', event => 'healthsherpa-sync' },
               action => { contact_id => $john, agent => $AGENT } });
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

# ---- the login: url, then exchange ----
my ($rc, $out, $err) = worker_cmd($conf, 'oauth', 'healthsherpa', 'url', $AGENT);
is($rc, 0, 'oauth healthsherpa url') or diag $err;
my ($state) = $out =~ /state=([0-9a-f]{32})$/m;
ok($state, '... a URL with a state');
is(redis()->cmd('GET', "{caresync}:hs:state:$state"), $AGENT,
   '... the state is bound to the agent in Redis');
ok(redis()->cmd('TTL', "{caresync}:hs:state:$state") > 0, '... and expires');

($rc, $out, $err) = worker_cmd($conf, 'oauth', 'healthsherpa', 'exchange',
                               $AGENT, "bad-code");
is($rc, 1, 'exchange of a bad code fails');
like($err, qr/HealthSherpa authentication failed: invalid_grant/, '... saying why');

($rc, $out, $err) = worker_cmd($conf, 'oauth', 'healthsherpa', 'exchange',
                               $AGENT, "fake-code-$AGENT");
is($rc, 0, 'exchange of the code') or diag $err;
unlike($out . $err, qr/hs-at-|hs-rt-/, '... prints no token');
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
($rc) = worker_cmd($conf, 'oauth', 'healthsherpa', 'exchange', $AGENT,
                   "fake-code-$AGENT");
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
my $log = '';
for my $f (grep { !/worker\.log$/ } glob "$env->{dir}/*.log") {
    local $/; open my $fh, '<', $f; $log .= <$fh> // '';
}
ok($log !~ $secret, 'no token or secret in the other logs');
done_testing();
