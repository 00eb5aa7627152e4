# The actions API and job status of a `caresync_api` location
# (spec/inbound.md §4, spec/job.md "status record"): bearer tokens, the
# 202 and its job, the status record written with it, GET of a job's
# status, and every way of getting a request wrong; tokens bound to the
# agents they may act for; repeated requests (a signed message id, an
# Idempotency-Key) answered for their first job.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

use File::Temp qw(tempdir);

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;',
    config       => <<'_C_',
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
    caresync_api_token second-t0ken;
}
_C_
    more_headers => "Content-Type: application/json\nAuthorization: Bearer t0ken",
);

# Test::Nginx builds all the requests of a block before it sends the first,
# so a status_url cannot go from one request of a block to the next. It
# goes from one block to the next instead: the last 202's status_url and
# job_id are kept here, and a block's "{status_url}" (in --- request) and
# "{job_id}" (in --- response_body_like) are replaced with them before the
# block runs; such a block says --- redis_keep, so that the record the
# previous block's POST wrote is still in Redis.
my %last_202;

add_response_body_check(sub {
    my ($block, $body) = @_;
    my $doc = eval { json_decode($body // '') };
    %last_202 = %$doc if ref $doc eq 'HASH' && defined $doc->{status_url};
});

add_block_preprocessor(sub {
    my ($block) = @_;
    my $req = $block->request;
    return unless defined $req && !ref $req && $req =~ /\{status_url\}/;
    die $block->name . ": no 202 with a status_url before this block\n"
        unless defined $last_202{status_url};
    $req =~ s/\{status_url\}/$last_202{status_url}/g;
    $block->set_value(request => $req);
    if (defined(my $like = $block->response_body_like)) {
        $like =~ s/\{job_id\}/$last_202{job_id}/g;
        $block->set_value(response_body_like => $like);
    }
});

# Job ids are the handle of a status record: one must tell nothing about
# the next.  In a block whose name says "unguessable", each 202's job id
# is compared with the previous one: their 80 random bits (the last 16
# characters) must differ in many places, not in the last few only (as a
# counter would), and the time part must not go back.
my $prev_job_id;

sub ulid_bits {
    my $b32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    return join '', map { sprintf '%05b', index($b32, $_) }
                    split //, substr($_[0], 10);
}

add_response_body_check(sub {
    my ($block, $body) = @_;
    return unless $block->name =~ /unguessable/;
    my ($id) = ($body // '') =~ /"job_id":"([0-9A-HJKMNP-TV-Z]{26})"/
        or return;
    if (defined $prev_job_id) {
        my ($a, $b) = (ulid_bits($prev_job_id), ulid_bits($id));
        my $d = grep { substr($a, $_, 1) ne substr($b, $_, 1) } 0 .. 79;
        Test::More::cmp_ok($d, '>=', 12,
            $block->name . " - random bits differ ($d of 80)");
        Test::More::isnt(substr($id, 0, 22), substr($prev_job_id, 0, 22),
            $block->name . ' - not only in the last characters');
        Test::More::cmp_ok(substr($id, 0, 10), 'ge', substr($prev_job_id, 0, 10),
            $block->name . ' - time ordered');
    }
    $prev_job_id = $id;
});

# A token read from a file (file:/path): written here, so that both
# runners see it; the path reaches the config as $TEST_NGINX_API_TOKEN_FILE.
{
    my $dir = tempdir('caresync-api-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $path = "$dir/api.token";
    open my $out, '>', $path or die "$path: $!";
    print $out "t0ken-from-file\n";
    close $out or die "$path: $!";
    chmod 0600, $path or die "$path: $!";   # nginx refuses more
    $ENV{TEST_NGINX_API_TOKEN_FILE} = $path;

    # the agents a token may act for (agents=file:/path), one a line
    $path = "$dir/team.agents";
    open $out, '>', $path or die "$path: $!";
    print $out "bob\@example.org\ncarol\@example.org\n";
    close $out or die "$path: $!";
    chmod 0600, $path or die "$path: $!";
    $ENV{TEST_NGINX_API_AGENTS_FILE} = $path;
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: healthsherpa-sync: 202 with a ULID job id and its status URL, one job, a queued status record
--- request eval
post_body('/caresync/actions/healthsherpa-sync',
          '{"contact_id":"003000000000001AAA","agent":"agent@example.com"}')
--- error_code: 202
--- response_body_like chomp
^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$
--- jobs: 1
--- job_fields
v = 1
type = healthsherpa.sync
id =~ ^[0-9A-HJKMNP-TV-Z]{26}$
received_at =~ ^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$
idempotency_key =~ ^[0-9a-f]{64}$
source.system = crm
source.event = healthsherpa-sync
action.contact_id = 003000000000001AAA
action.agent = agent@example.com
action.patient_id = ABSENT
patient = ABSENT
raw.contact_id = 003000000000001AAA
--- job_record
status = queued
type = healthsherpa.sync
attempts = 0
created_at =~ ^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$
updated_at =~ ^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$



=== TEST 2: GET the status_url TEST 1 was given: 200 with its record, status queued
--- redis_keep
--- request
GET {status_url}
--- response_body_like chomp
^\{"job_id":"{job_id}","status":"queued","type":"healthsherpa\.sync","attempts":0,"created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z","updated_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"\}$
--- jobs: 1



=== TEST 3: GET a job the worker has moved on: the record as the worker wrote it, job_id and status first
--- init
Caresync::Test::redis_cmd('HSET', '{caresync}:job:01JD3QZ8Y5K2M7W9X4T6R1B0CE',
    'type', 'healthsherpa.sync', 'status', 'no_match', 'attempts', '2',
    'message', 'No matching HealthSherpa contact found',
    'crm_contact_id', '003000000000001AAA',
    'job_id', '01JD3QZ8Y5K2M7W9X4T6R1B0CE',
    'updated_at', '2026-11-21T10:00:00.123Z');
--- request
GET /caresync/jobs/01JD3QZ8Y5K2M7W9X4T6R1B0CE
--- response_body chomp
{"job_id":"01JD3QZ8Y5K2M7W9X4T6R1B0CE","status":"no_match","type":"healthsherpa.sync","attempts":2,"message":"No matching HealthSherpa contact found","crm_contact_id":"003000000000001AAA","updated_at":"2026-11-21T10:00:00.123Z"}
--- jobs: 0



=== TEST 4: GET an unknown job: 404
--- request
GET /caresync/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV
--- error_code: 404
--- response_body chomp
{"errorMessage":"unknown job"}
--- jobs: 0



=== TEST 5: GET a job id that cannot be one (lower case, other characters, empty): 404
--- request eval
['GET /caresync/jobs/01arz3ndektsv4rrffq69g5fav',
 'GET /caresync/jobs/01ARZ3NDEKTSV4RRFFQ69G5FA*',
 'GET /caresync/jobs/']
--- error_code eval
[404, 404, 404]
--- response_body eval
[('{"errorMessage":"unknown job"}') x 3]
--- jobs: 0



=== TEST 6: no token: 401 with WWW-Authenticate, nothing queued
--- request eval
post_body('/caresync/actions/healthsherpa-sync',
          '{"contact_id":"003000000000001AAA","agent":"agent@example.com"}')
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
Content-Type: application/json
--- response_body chomp
{"errorMessage":"missing or invalid bearer token"}
--- jobs: 0



=== TEST 7: a wrong token, an empty one, a token of another scheme, a prefix of the right one: 401 each
--- request eval
[(post_body('/caresync/actions/healthsherpa-sync',
            '{"contact_id":"003000000000001AAA","agent":"agent@example.com"}')) x 4]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer t0ken-not",
 "Content-Type: application/json\nAuthorization: Bearer ",
 "Content-Type: application/json\nAuthorization: Basic t0ken",
 "Content-Type: application/json\nAuthorization: Bearer t0k"]
--- error_code eval
[401, 401, 401, 401]
--- response_headers eval
[("WWW-Authenticate: Bearer\nContent-Type: application/json") x 4]
--- response_body eval
[('{"errorMessage":"missing or invalid bearer token"}') x 4]
--- jobs: 0



=== TEST 8: job status needs the token too
--- request
GET /caresync/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV
--- more_headers
Authorization: Bearer nope
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
Content-Type: application/json
--- response_body chomp
{"errorMessage":"missing or invalid bearer token"}
--- jobs: 0



=== TEST 9: the second token works, and the scheme is matched in any case
--- request eval
[(post_body('/caresync/actions/healthsherpa-sync',
            '{"contact_id":"003000000000001AAA","agent":"agent@example.com"}')) x 2]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer second-t0ken",
 "Content-Type: application/json\nAuthorization: bearer t0ken"]
--- error_code eval
[202, 202]
--- response_body_like eval
[('^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$') x 2]
--- jobs: 2



=== TEST 10: every click is its own job: the same body twice is two jobs
--- request eval
[(post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}')) x 2]
--- error_code eval
[202, 202]
--- response_body_like eval
[('^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$') x 2]
--- jobs: 2



=== TEST 11: hint-sync with a patient id: 202, a hint.sync job
--- request eval
post_body('/caresync/actions/hint-sync',
          '{"contact_id":"003000000000001AAA","patient_id":"pat-8Kd02LmQz1"}')
--- error_code: 202
--- response_body_like chomp
^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$
--- jobs: 1
--- job_fields
type = hint.sync
source.system = crm
source.event = hint-sync
action.contact_id = 003000000000001AAA
action.patient_id = pat-8Kd02LmQz1
action.create = ABSENT
--- job_record
status = queued
type = hint.sync



=== TEST 12: hint-sync without a patient id (search, or create): 202
--- request eval
[post_body('/caresync/actions/hint-sync', '{"contact_id":"003000000000001AAA"}'),
 post_body('/caresync/actions/hint-sync', '{"contact_id":"003000000000001AAA","patient_id":null,"create":true}')]
--- error_code eval
[202, 202]
--- response_body_like eval
[('^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$') x 2]
--- jobs: 2
--- job_fields
type = hint.sync
action.contact_id = 003000000000001AAA
action.patient_id = ABSENT
action.create = true



=== TEST 13: hint-unlink: 202, a hint.unlink job
--- request eval
post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}')
--- error_code: 202
--- response_body_like chomp
^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$
--- jobs: 1
--- job_fields
type = hint.unlink
source.event = hint-unlink
action.contact_id = 003000000000001AAA
--- job_record
status = queued
type = hint.unlink



=== TEST 14: crm-contact-changed, with a 15-character id: 202, a crm.contact_changed job
--- request eval
post_body('/caresync/actions/crm-contact-changed', '{"contact_id":"003000000000001"}')
--- error_code: 202
--- response_body_like chomp
^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$
--- jobs: 1
--- job_fields
type = crm.contact_changed
source.event = crm-contact-changed
action.contact_id = 003000000000001
--- job_record
status = queued
type = crm.contact_changed



=== TEST 15: the contact id is trimmed
--- request eval
post_body('/caresync/actions/hint-unlink', '{"contact_id":" 003000000000001AAA "}')
--- error_code: 202
--- response_body_like chomp
^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$
--- jobs: 1
--- job_fields
action.contact_id = 003000000000001AAA



=== TEST 16: missing contact_id: 400, nothing queued
--- request eval
post_body('/caresync/actions/healthsherpa-sync', '{"agent":"agent@example.com"}')
--- error_code: 400
--- response_body chomp
{"errorMessage":"contact_id is required"}
--- jobs: 0



=== TEST 17: a 10-character contact_id, and one with other characters: 400
--- request eval
[post_body('/caresync/actions/hint-unlink', '{"contact_id":"0030000000"}'),
 post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AA!"}')]
--- error_code eval
[400, 400]
--- response_body eval
[('{"errorMessage":"contact_id must be a 15- or 18-character Salesforce id"}') x 2]
--- jobs: 0



=== TEST 18: contact_id a number
--- request eval
post_body('/caresync/actions/hint-unlink', '{"contact_id":3000000000000011}')
--- error_code: 400
--- response_body chomp
{"errorMessage":"contact_id must be a string"}
--- jobs: 0



=== TEST 19: healthsherpa-sync without an agent, or with an empty one: 400
--- request eval
[post_body('/caresync/actions/healthsherpa-sync', '{"contact_id":"003000000000001AAA"}'),
 post_body('/caresync/actions/healthsherpa-sync', '{"contact_id":"003000000000001AAA","agent":" "}')]
--- error_code eval
[400, 400]
--- response_body eval
[('{"errorMessage":"agent is required"}') x 2]
--- jobs: 0



=== TEST 20: hint-sync with a patient_id that is not a Hint id, or a create that is not a boolean: 400
--- request eval
[post_body('/caresync/actions/hint-sync', '{"contact_id":"003000000000001AAA","patient_id":"8Kd02LmQz1"}'),
 post_body('/caresync/actions/hint-sync', '{"contact_id":"003000000000001AAA","patient_id":"pat-../x"}'),
 post_body('/caresync/actions/hint-sync', '{"contact_id":"003000000000001AAA","create":"yes"}')]
--- error_code eval
[400, 400, 400]
--- response_body eval
['{"errorMessage":"patient_id must be a Hint patient id"}',
 '{"errorMessage":"patient_id must be a Hint patient id"}',
 '{"errorMessage":"create must be a boolean"}']
--- jobs: 0



=== TEST 21: a body that is not JSON, or not an object: 400
--- request eval
[post_body('/caresync/actions/hint-unlink', '{"contact_id":'),
 post_body('/caresync/actions/hint-unlink', '["003000000000001AAA"]')]
--- error_code eval
[400, 400]
--- response_body eval
['{"errorMessage":"body is not valid JSON"}',
 '{"errorMessage":"body must be a JSON object"}']
--- jobs: 0



=== TEST 22: GET on an action: 405, Allow: POST
--- request
GET /caresync/actions/healthsherpa-sync
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body chomp
{"errorMessage":"method not allowed"}
--- jobs: 0



=== TEST 23: POST on a job: 405, Allow: GET
--- request
POST /caresync/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV
{"status":"done"}
--- error_code: 405
--- response_headers
Allow: GET
Content-Type: application/json
--- response_body chomp
{"errorMessage":"method not allowed"}
--- jobs: 0



=== TEST 24: an unknown action, and a path that is neither: 404
--- request eval
[post_body('/caresync/actions/delete-everything', '{"contact_id":"003000000000001AAA"}'),
 'GET /caresync/other/thing']
--- error_code eval
[404, 404]
--- response_body eval
[('{"errorMessage":"not found"}') x 2]
--- jobs: 0



=== TEST 25: a body not declared JSON: 415
--- request eval
post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}')
--- more_headers
Content-Type: text/plain
Authorization: Bearer t0ken
--- error_code: 415
--- response_body chomp
{"errorMessage":"Content-Type must be application/json"}
--- jobs: 0



=== TEST 26: status URLs follow the location the action was posted under
--- config
location /ops/caresync/ {
    caresync_api;
    caresync_api_token t0ken;
}
--- request eval
post_body('/ops/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}')
--- error_code: 202
--- response_body_like chomp
^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/ops/caresync/jobs/\1"\}$
--- jobs: 1



=== TEST 27: Redis down: 503 with Retry-After for an action and for a status, nothing queued
--- redis_down
--- request eval
[post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}'),
 'GET /caresync/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV']
--- error_code eval
[503, 503]
--- response_headers_like eval
[("Content-Type: application/json\nRetry-After: \\d+") x 2]
--- response_body eval
[('{"errorMessage":"temporarily unavailable"}') x 2]
--- jobs: 0



=== TEST 28: caresync_prefix: the job and its status record are under {acme}
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
    caresync_prefix "{acme}";
}
--- request eval
post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}')
--- error_code: 202
--- response_body_like chomp
^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$
--- jobs_prefix: {acme}
--- jobs: 1
--- job_record
status = queued
type = hint.unlink



=== TEST 29: caresync_prefix: the status URL TEST 28 was given reads the record there
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
    caresync_prefix "{acme}";
}
--- redis_keep
--- request
GET {status_url}
--- response_body_like chomp
^\{"job_id":"{job_id}","status":"queued","type":"hint\.unlink","attempts":0,
--- jobs_prefix: {acme}
--- jobs: 1



=== TEST 30: a status record's text is written as JSON strings (quotes, newlines, control characters); a non-integer count stays a string
--- init
Caresync::Test::redis_cmd('HSET', '{caresync}:job:01JD3QZ8Y5K2M7W9X4T6R1B0CF',
    'job_id', '01JD3QZ8Y5K2M7W9X4T6R1B0CF', 'status', 'failed', 'attempts', '2x',
    'last_error', qq(HealthSherpa said "rate limited"\n\\ retry\x01));
--- request
GET /caresync/jobs/01JD3QZ8Y5K2M7W9X4T6R1B0CF
--- response_body chomp
{"job_id":"01JD3QZ8Y5K2M7W9X4T6R1B0CF","status":"failed","attempts":"2x","last_error":"HealthSherpa said \"rate limited\"\n\\ retry\u0001"}
--- jobs: 0



=== TEST 31: a token read from a file, its trailing newline not part of it
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token file:$TEST_NGINX_API_TOKEN_FILE;
}
--- request eval
[(post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}')) x 2]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer t0ken",
 "Content-Type: application/json\nAuthorization: Bearer t0ken-from-file"]
--- error_code eval
[401, 202]
--- response_headers eval
["WWW-Authenticate: Bearer\nContent-Type: application/json", "Content-Type: application/json"]
--- response_body_like eval
['^\{"errorMessage":"missing or invalid bearer token"\}$',
 '^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$']
--- jobs: 1



=== TEST 32: a status URL read by a subrequest (auth_request): answered from a Redis event, the parent request goes on
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
}
location = /guarded {
    auth_request /caresync/jobs/TOKENCHECK;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/guarded-content;
}
location = /guarded-content {
    default_type application/json;
    return 200 '{"guarded":true}';
}
--- init
Caresync::Test::redis_cmd('HSET', '{caresync}:job:TOKENCHECK', 'job_id', 'TOKENCHECK', 'status', 'probe');
--- request eval
["GET /guarded", "GET /guarded"]
--- more_headers eval
["Authorization: Bearer t0ken", "Authorization: Bearer wrong"]
--- error_code eval
[200, 401]
--- response_headers eval
["Content-Type: application/json", "Content-Type: text/html"]
--- response_body_like eval
['^\{"guarded":true\}$', '401 Authorization Required']
--- timeout: 5
--- jobs: 0



=== TEST 33: a token bound to agents: its own agent, in any case and with spaces around, or its CRM user id exactly: 202 and a job each
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token alice-t0ken agents=alice@example.org,005000000000001AAA;
    caresync_api_token team-t0ken agents=file:$TEST_NGINX_API_AGENTS_FILE;
    caresync_api_token any-t0ken;
}
--- request eval
[post_body('/caresync/actions/healthsherpa-sync',
           '{"contact_id":"003000000000001AAA","agent":"alice@example.org"}'),
 post_body('/caresync/actions/healthsherpa-sync',
           '{"contact_id":"003000000000001AAA","agent":"  Alice@EXAMPLE.org "}'),
 post_body('/caresync/actions/healthsherpa-sync',
           '{"contact_id":"003000000000001AAA","agent":"005000000000001AAA"}')]
--- more_headers eval
[("Content-Type: application/json\nAuthorization: Bearer alice-t0ken") x 3]
--- error_code eval
[202, 202, 202]
--- response_body_like eval
[('^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$') x 3]
--- jobs: 3
--- job_fields
action.agent = 005000000000001AAA



=== TEST 34: a token bound to agents: another agent (one another token may act for, too), or its CRM user id in another case: 403, nothing queued, the agent neither answered nor logged
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token alice-t0ken agents=alice@example.org,005000000000001AAA;
    caresync_api_token team-t0ken agents=file:$TEST_NGINX_API_AGENTS_FILE;
    caresync_api_token any-t0ken;
}
--- request eval
[post_body('/caresync/actions/healthsherpa-sync',
           '{"contact_id":"003000000000001AAA","agent":"bob@example.org"}'),
 post_body('/caresync/actions/healthsherpa-sync',
           '{"contact_id":"003000000000001AAA","agent":"mallory@example.org"}'),
 post_body('/caresync/actions/healthsherpa-sync',
           '{"contact_id":"003000000000001AAA","agent":"005000000000001aaa"}'),
 post_body('/caresync/actions/healthsherpa-sync',
           '{"contact_id":"003000000000001AAA","agent":"alice@example.org.evil"}')]
--- more_headers eval
[("Content-Type: application/json\nAuthorization: Bearer alice-t0ken") x 4]
--- error_code eval
[403, 403, 403, 403]
--- response_body eval
[('{"errorMessage":"this token may not act for that agent"}') x 4]
--- jobs: 0
--- no_error_log
bob@example.org
mallory@example.org
005000000000001aaa
alice@example.org



=== TEST 35: agents from a file: the token acts for those and no other; an unbound token acts for anyone
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token alice-t0ken agents=alice@example.org,005000000000001AAA;
    caresync_api_token team-t0ken agents=file:$TEST_NGINX_API_AGENTS_FILE;
    caresync_api_token any-t0ken;
}
--- request eval
[post_body('/caresync/actions/healthsherpa-sync',
           '{"contact_id":"003000000000001AAA","agent":"carol@example.org"}'),
 post_body('/caresync/actions/healthsherpa-sync',
           '{"contact_id":"003000000000001AAA","agent":"alice@example.org"}'),
 post_body('/caresync/actions/healthsherpa-sync',
           '{"contact_id":"003000000000001AAA","agent":"mallory@example.org"}')]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer team-t0ken",
 "Content-Type: application/json\nAuthorization: Bearer team-t0ken",
 "Content-Type: application/json\nAuthorization: Bearer any-t0ken"]
--- error_code eval
[202, 403, 202]
--- response_body_like eval
['^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$',
 '^\{"errorMessage":"this token may not act for that agent"\}$',
 '^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$']
--- jobs: 2
--- job_fields
action.agent = mallory@example.org



=== TEST 36: a bound token: an action that names no agent acts for none and is queued; healthsherpa-sync without one is a 400
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token alice-t0ken agents=alice@example.org;
}
--- request eval
[post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}'),
 post_body('/caresync/actions/hint-sync',
           '{"contact_id":"003000000000001AAA","agent":"mallory@example.org"}'),
 post_body('/caresync/actions/healthsherpa-sync', '{"contact_id":"003000000000001AAA"}')]
--- more_headers eval
[("Content-Type: application/json\nAuthorization: Bearer alice-t0ken") x 3]
--- error_code eval
[202, 202, 400]
--- response_body_like eval
['^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$',
 '^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$',
 '^\{"errorMessage":"agent is required"\}$']
--- jobs: 2
--- job_fields
type = hint.sync
action.agent = ABSENT



=== TEST 37: a refused agent is counted under its own reject reason
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token alice-t0ken agents=alice@example.org;
}
location = /metrics { caresync_metrics; }
--- request eval
[post_body('/caresync/actions/healthsherpa-sync',
           '{"contact_id":"003000000000001AAA","agent":"mallory@example.org"}'),
 'GET /metrics']
--- more_headers eval
[("Content-Type: application/json\nAuthorization: Bearer alice-t0ken") x 2]
--- error_code eval
[403, 200]
--- response_headers eval
['Content-Type: application/json', 'Content-Type: text/plain; version=0.0.4']
--- response_body_like eval
['^\{"errorMessage":"this token may not act for that agent"\}$',
 'caresync_requests_total\{endpoint="api",status="403"\} 1\n(?s:.*)caresync_rejects_total\{endpoint="api",reason="agent"\} 1\n']
--- jobs: 0



=== TEST 38: a signed action (Standard Webhooks) replayed with a fresh signature: the first job's 202 again, nothing queued
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==;
}
--- request eval
[(post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}')) x 2]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
my $body = '{"contact_id":"003000000000001AAA"}';
["Content-Type: application/json\nAuthorization: Bearer t0ken\n"
 . standard_webhook_headers($secret, 'msg_api_1', $body, timestamp => time - 30),
 "Content-Type: application/json\nAuthorization: Bearer t0ken\n"
 . standard_webhook_headers($secret, 'msg_api_1', $body)]
--- error_code eval
[202, 202]
--- response_body_like eval
[('^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$') x 2]
--- jobs: 1
--- job_record
status = queued
type = hint.unlink



=== TEST 39: Idempotency-Key: the same request twice is one job, and the repeat is answered with the first job's id
--- request eval
[(post_body('/caresync/actions/healthsherpa-sync',
            '{"contact_id":"003000000000001AAA","agent":"agent@example.com"}')) x 2]
--- more_headers eval
[("Content-Type: application/json\nAuthorization: Bearer t0ken\nIdempotency-Key: click-7f3a") x 2]
--- error_code eval
[202, 202]
--- response_body_like eval
[('^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$') x 2]
--- jobs: 1
--- job_record
status = queued
type = healthsherpa.sync



=== TEST 40: Idempotency-Key: the same key with another body: 422, nothing more queued
--- request eval
[post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}'),
 post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000002AAA"}')]
--- more_headers eval
[("Content-Type: application/json\nAuthorization: Bearer t0ken\nIdempotency-Key: click-7f3a") x 2]
--- error_code eval
[202, 422]
--- response_body_like eval
['^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$',
 '^\{"errorMessage":"this idempotency key was used with another body"\}$']
--- jobs: 1
--- job_fields
action.contact_id = 003000000000001AAA



=== TEST 41: Idempotency-Key: per token and per action: the same key with another token, or to another action, is another job; no key, every click a job
--- request eval
[post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}'),
 post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}'),
 post_body('/caresync/actions/crm-contact-changed', '{"contact_id":"003000000000001AAA"}'),
 post_body('/caresync/actions/crm-contact-changed', '{"contact_id":"003000000000001AAA"}')]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer t0ken\nIdempotency-Key: click-7f3a",
 "Content-Type: application/json\nAuthorization: Bearer second-t0ken\nIdempotency-Key: click-7f3a",
 "Content-Type: application/json\nAuthorization: Bearer t0ken\nIdempotency-Key: click-7f3a",
 "Content-Type: application/json\nAuthorization: Bearer t0ken"]
--- error_code eval
[202, 202, 202, 202]
--- jobs: 4



=== TEST 42: Idempotency-Key: empty, with a space, or longer than 255 bytes: 400, nothing queued
--- request eval
[(post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}')) x 3]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer t0ken\nIdempotency-Key: ",
 "Content-Type: application/json\nAuthorization: Bearer t0ken\nIdempotency-Key: two words",
 "Content-Type: application/json\nAuthorization: Bearer t0ken\nIdempotency-Key: " . ('k' x 256)]
--- error_code eval
[400, 400, 400]
--- response_body eval
[('{"errorMessage":"Idempotency-Key must be 1 to 255 visible ASCII characters"}') x 3]
--- jobs: 0
--- no_error_log
[alert]



=== TEST 43: Idempotency-Key: the mark lasts the dedupe window; once it is over, the key queues a new job
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
    caresync_dedupe_ttl 10s;
}
--- redis_age_after: 0 10000
--- request eval
[(post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}')) x 2]
--- more_headers eval
[("Content-Type: application/json\nAuthorization: Bearer t0ken\nIdempotency-Key: click-7f3a") x 2]
--- error_code eval
[202, 202]
--- jobs: 2



=== TEST 44: unguessable job ids: each of 8 consecutive 202s has fresh random bits
--- request eval
[(post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}')) x 8]
--- error_code eval
[(202) x 8]
--- response_body_like eval
[('^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/caresync/jobs/\1"\}$') x 8]
--- jobs: 8
