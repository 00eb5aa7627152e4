# The OAuth callback of "Login to HealthSherpa" (a caresync_oauth_callback
# location): a state the worker issued, not used yet, turns the code into
# an ops.hs_exchange job, once; anything else is a page that says what to
# do, and queues nothing. The page follows its job through `status`,
# which answers for such jobs only. And the console's side: hs-login is
# the console's action, hs-exchange nobody's.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;',
    config       => <<'_C_',
location /oauth/healthsherpa/ {
    caresync_oauth_callback;
}
location /console/ {
    caresync_console;
    caresync_api_token c0nsole-t0ken;
}
location /caresync/ {
    caresync_api;
    caresync_api_token c0nsole-t0ken;
}
_C_
);

our $STATE = '0123456789abcdef0123456789abcdef';

sub issued {
    Caresync::Test::redis_cmd('SET', "{caresync}:hs:state:$STATE",
                              'agent@example.org', 'EX', 600);
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a state the worker issued: the code becomes a job, and a page follows it
--- init
main::issued();
--- request eval
"GET /oauth/healthsherpa/?code=fake-code-agent%40example.org&state=$main::STATE"
--- error_code: 200
--- response_headers
Content-Type: text/html; charset=utf-8
X-Frame-Options: DENY
Cache-Control: no-store
Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'
--- response_body_like chomp
<main id="login" data-job="[0-9A-HJKMNP-TV-Z]{26}">.*Logging in to HealthSherpa
--- response_body_unlike chomp
(fake-code|0123456789abcdef|<script>)
--- jobs: 1
--- job_fields eval
"type = ops.hs_exchange
action.state = $main::STATE
action.code = fake-code-agent\@example.org
action.agent = ABSENT
action.contact_id = ABSENT
patient = ABSENT"



=== TEST 2: the same link again: used already, nothing more queued
--- redis_keep
--- request eval
"GET /oauth/healthsherpa/?code=fake-code-agent%40example.org&state=$main::STATE"
--- error_code: 400
--- response_headers
Content-Type: text/html; charset=utf-8
--- response_body_like chomp
This login link was used already
--- jobs: 1



=== TEST 3: a state nobody issued, or one that expired
--- request eval
"GET /oauth/healthsherpa/?code=abc&state=$main::STATE"
--- error_code: 400
--- response_headers
Content-Type: text/html; charset=utf-8
--- response_body_like chomp
This login link expired \(it lasts ten minutes\) or is unknown
--- jobs: 0



=== TEST 4: codes and states of other shapes never reach Redis
--- init
main::issued();
--- request eval
["GET /oauth/healthsherpa/?code=abc&state=0123456789ABCDEF0123456789ABCDEF",
 "GET /oauth/healthsherpa/?code=abc&state=0123456789abcdef0123456789abcde",
 "GET /oauth/healthsherpa/?code=a%20b&state=$main::STATE",
 "GET /oauth/healthsherpa/?code=a%22%3E%3Cscript%3E&state=$main::STATE",
 "GET /oauth/healthsherpa/?code=" . ('a' x 513) . "&state=$main::STATE",
 "GET /oauth/healthsherpa/?state=$main::STATE",
 "GET /oauth/healthsherpa/"]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400]
--- response_headers eval
[("Content-Type: text/html; charset=utf-8") x 7]
--- response_body_like eval
[("(is not one HealthSherpa sends|is not a login link HealthSherpa sent)") x 7]
--- response_body_unlike chomp
<script>
--- jobs: 0



=== TEST 5: the agent refused, or another error: said, nothing queued
--- request eval
["GET /oauth/healthsherpa/?error=access_denied&state=$main::STATE",
 "GET /oauth/healthsherpa/?error=%3Cb%3Ex&state=$main::STATE"]
--- error_code eval
[400, 400]
--- response_headers eval
[("Content-Type: text/html; charset=utf-8") x 2]
--- response_body_like eval
['refused or cancelled', 'sent an error back']
--- response_body_unlike chomp
<b>
--- jobs: 0



=== TEST 6: the page's status: an ops.hs_exchange job's, nobody else's
--- init
Caresync::Test::redis_cmd('HSET', '{caresync}:job:01JLOGIN000000000000000000',
    type => 'ops.hs_exchange', status => 'updated', attempts => 1,
    message => 'Logged in to HealthSherpa');
Caresync::Test::redis_cmd('HSET', '{caresync}:job:01JLOGINFAIL00000000000000',
    type => 'ops.hs_exchange', status => 'failed', attempts => 1,
    message => 'x', last_error => 'HealthSherpa refused the code');
Caresync::Test::redis_cmd('HSET', '{caresync}:job:01JOTHER000000000000000000',
    type => 'healthsherpa.sync', status => 'matched', crm_contact_id => '003000000000001AAA');
--- request eval
["GET /oauth/healthsherpa/status?job=01JLOGIN000000000000000000",
 "GET /oauth/healthsherpa/status?job=01JLOGINFAIL00000000000000",
 "GET /oauth/healthsherpa/status?job=01JOTHER000000000000000000",
 "GET /oauth/healthsherpa/status?job=01jlogin000000000000000000",
 "GET /oauth/healthsherpa/status"]
--- error_code eval
[200, 200, 404, 404, 404]
--- response_body eval
['{"status":"updated","message":"Logged in to HealthSherpa"}',
 '{"status":"failed","message":"HealthSherpa refused the code"}',
 '{"errorMessage":"unknown job"}', '{"errorMessage":"unknown job"}',
 '{"errorMessage":"unknown job"}']
--- jobs: 0



=== TEST 7: the page's script; only GET; nothing else there
--- request eval
["GET /oauth/healthsherpa/oauth.js",
 "POST /oauth/healthsherpa/?code=abc&state=0123456789abcdef0123456789abcdef\nx",
 "GET /oauth/healthsherpa/other"]
--- error_code eval
[200, 405, 404]
--- response_headers eval
["Content-Type: text/javascript; charset=utf-8",
 "Content-Type: application/json", "Content-Type: application/json"]
--- response_body_like eval
["status\\?job=", "method not allowed", "not found"]
--- jobs: 0



=== TEST 8: "Login to HealthSherpa" is the console's action: ops.hs_login with the agent and who asked
--- more_headers
Authorization: Bearer c0nsole-t0ken
Content-Type: application/json
--- request
POST /console/api/actions/hs-login
{"agent":" agent@example.org "}
--- error_code: 202
--- jobs: 1
--- job_fields
type = ops.hs_login
action.agent = agent@example.org
action.actor =~ ^token-[0-9a-f]{12}$



=== TEST 9: a login's code is never posted: hs-exchange is nobody's action; hs-login not the actions API's
--- more_headers
Authorization: Bearer c0nsole-t0ken
Content-Type: application/json
--- request eval
["POST /console/api/actions/hs-exchange\n{\"state\":\"0123456789abcdef0123456789abcdef\",\"code\":\"x\"}",
 "POST /caresync/actions/hs-exchange\n{\"state\":\"0123456789abcdef0123456789abcdef\",\"code\":\"x\"}",
 "POST /caresync/actions/hs-login\n{\"agent\":\"agent\@example.org\"}",
 "POST /console/api/actions/hs-login\n{}"]
--- error_code eval
[404, 404, 404, 400]
--- jobs: 0
