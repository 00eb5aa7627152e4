# "Login to HealthSherpa" from the console, end to end (seed 000, Agent
# Authentication; docs/operations.md, "The console"): a real browser
# (t/browser/oauth.test.js) clicks the button; the worker issues the
# authorize URL with its state; HealthSherpa (the fake's authorize page)
# sends the agent back to the caresync_oauth_callback location, which
# queues the code; the worker trades it and stores the agent's tokens;
# the tab says "Logged in"; the same link again is refused.
# Screenshot: build/console-oauth.png.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);
use Caresync::Worker;

my $root = Caresync::Worker::root();

my $env = start_env();
my $token = 'console-oauth-t0ken';
my $AGENT = 'agent@example.org';
my $port = start_nginx(<<"LOC");
        location /console/ {
            caresync_console;
            caresync_api_token $token;
        }
        location /oauth/healthsherpa/ {
            caresync_oauth_callback;
        }
LOC
ok($port, 'nginx with the console and the callback') or BAIL_OUT('no nginx');

my $conf = write_config(
    'healthsherpa.version' => 2,
    'healthsherpa.api_key' => undef,
    'healthsherpa.authorize_url' => "$env->{fake}/oauth/authorize",
    'healthsherpa.token_url' => "$env->{fake}/oauth/token",
    'healthsherpa.client_id' => 'fake-hs-client',
    'healthsherpa.client_secret' => 'fake-hs-secret',
    'healthsherpa.redirect_uri' => "http://127.0.0.1:$port/oauth/healthsherpa/",
    'healthsherpa.token_key' => 'ab' x 32);
start_worker($conf);

my $shots = "$root/build";
mkdir $shots;
unlink "$shots/console-oauth.png";
my $checks = run_browser(
    script => 'oauth.test.js',
    env => { CONSOLE_URL => "http://127.0.0.1:$port/console/",
             CONSOLE_TOKEN => $token, AGENT => $AGENT, SHOTS => $shots });
ok($checks >= 6, "the browser made its checks ($checks)");
ok(-s "$shots/console-oauth.png", 'screenshot build/console-oauth.png');

# what the worker did: one token request, the agent's pair stored
my @tok = grep { $_->{path} eq '/oauth/token' }
          @{ fake_get('/__fake/requests?app=healthsherpa') };
is(scalar @tok, 1, 'the worker traded the code once');
is(scalar @{ redis()->cmd('KEYS', '{caresync}:hs:state:*') }, 0,
   'the state is used up');
is(redis()->cmd('EXISTS', "{caresync}:hs:token:$AGENT"), 1,
   'the agent\'s tokens are stored (sealed)');

done_testing();
