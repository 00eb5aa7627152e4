# The console of a `caresync_console` location: its page and files are
# served without a token and under strict security headers; each of its
# JSON calls needs the bearer token, refuses ids of the wrong shape, and
# answers ids, statuses, counters and messages only: never the patient a
# dead letter's job holds. The replay button queues an operator's job
# (ops.dlq_replay) that says which token asked, and only a console
# location takes it.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;',
    config       => <<'_C_',
location /console/ {
    caresync_console;
    caresync_api_token c0nsole-t0ken;
}
location /caresync/ {
    caresync_api;
    caresync_api_token c0nsole-t0ken;
}
_C_
    more_headers => "Authorization: Bearer c0nsole-t0ken",
);

# the PHI of a dead letter's envelope: none of it may reach an answer
my %phi = %{ phi_values() };
our $PHI = join '|', map { quotemeta } sort values %phi;

sub dead_letter {
    my $job = json_encode({
        v => 1, id => '01JDEAD0000000000000000001',
        type => 'helparound.enrollment',
        patient => { source_id => 'ha-77', first_name => $phi{first_name},
                     last_name => $phi{last_name}, dob => $phi{dob},
                     email => $phi{email},
                     phones => [{ type => 'mobile', number => $phi{phone} }],
                     address => { line1 => $phi{street} },
                     insurance => { primary => { member_id => $phi{member_id},
                                                 group_num => $phi{group_num} } } },
    });
    redis_cmd('XADD', '{caresync}:dead', '1700000000000-1',
              job_id => '01JDEAD0000000000000000001',
              type => 'helparound.enrollment',
              error => 'Salesforce refused the contact (HTTP 400): '
                       . 'REQUIRED_FIELD_MISSING on LastName',
              attempts => 5, failed_at => '1700000000000', job => $job);
}

sub batch {
    redis_cmd('HSET', '{caresync}:batch:b20261207101500a1b2c3',
              kind => 'healthsherpa', item => 'healthsherpa.sync',
              agent => $phi{email}, total => 3, pending => 1, ignored => 1,
              matched => 1, no_match => 1, failed => 0, skipped => 0,
              aborted => 0, created_at => '2026-12-07T10:15:00.000Z');
    redis_cmd('ZADD', '{caresync}:batches', 1765102500000,
              'b20261207101500a1b2c3');
    redis_cmd('HSET', '{caresync}:batch:b20261207101500a1b2c3:results',
              '003000000000001AAA',
              "matched\tb20261207101500a1b2c3-000001\tMatched HealthSherpa contact",
              '003000000000002AAA',
              "no_match\tb20261207101500a1b2c3-000002\tNo matching HealthSherpa contact found");
}

sub sync_log {
    redis_cmd('XADD', '{caresync}:log', '1700000000000-0', ts => '2023-11-14T22:13:20.000Z',
              level => 'debug', component => 'job', msg => 'start job_id=01JA type=hint.sync');
    redis_cmd('XADD', '{caresync}:log', '1700000001000-0', ts => '2023-11-14T22:13:21.000Z',
              level => 'error', component => 'job', msg => 'retrying job_id=01JA attempts=1');
    redis_cmd('XADD', '{caresync}:log', '1700000002000-0', ts => '2023-11-14T22:13:22.000Z',
              level => 'exception', component => 'http', msg => 'hint: connection refused');
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the page: no token needed, strict headers, no inline script or style
--- more_headers
--- request
GET /console/
--- error_code: 200
--- response_headers
Content-Type: text/html; charset=utf-8
Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'
X-Frame-Options: DENY
X-Content-Type-Options: nosniff
Referrer-Policy: no-referrer
Cache-Control: no-store
--- response_body_like chomp
<script src="console.js" defer></script>
--- response_body_unlike chomp
(<script>|<style|\son[a-z]+=|style=|https?://)
--- jobs: 0



=== TEST 2: index.html is the page too
--- more_headers
--- request
GET /console/index.html
--- error_code: 200
--- response_headers
Content-Type: text/html; charset=utf-8
--- response_body_like chomp
<title>caresync console</title>
--- jobs: 0



=== TEST 3: the script, as its own file, sends the bearer token
--- more_headers
--- request
GET /console/console.js
--- error_code: 200
--- response_headers
Content-Type: text/javascript; charset=utf-8
X-Frame-Options: DENY
--- response_body_like chomp
'Bearer ' \+ token
--- response_body_unlike chomp
(innerHTML|eval\(|https?://)
--- jobs: 0



=== TEST 4: the style
--- more_headers
--- request
GET /console/console.css
--- error_code: 200
--- response_headers
Content-Type: text/css; charset=utf-8
--- response_body_like chomp
focus-visible
--- jobs: 0



=== TEST 5: the files are read, not written
--- more_headers
--- request
POST /console/console.js
x
--- error_code: 405
--- response_headers
Allow: GET
--- jobs: 0



=== TEST 6: a file that is not there
--- more_headers
--- request
GET /console/secret.txt
--- error_code: 404
--- response_body chomp
{"errorMessage":"not found"}
--- jobs: 0



=== TEST 7: the dead letters without a token: 401, with the headers
--- more_headers
--- request
GET /console/api/dlq
--- error_code: 401
--- response_headers
Content-Type: application/json
WWW-Authenticate: Bearer
X-Frame-Options: DENY
Cache-Control: no-store
--- response_body chomp
{"errorMessage":"missing or invalid bearer token"}
--- jobs: 0



=== TEST 8: a job's status without a token: 401
--- more_headers
--- request
GET /console/api/jobs/01JDEAD0000000000000000001
--- error_code: 401
--- jobs: 0



=== TEST 9: a batch, the log, an abort, a replay with a wrong token: 401 each
--- more_headers
Authorization: Bearer c0nsole-t0kem
--- request eval
["GET /console/api/batches/b20261207101500a1b2c3",
 "GET /console/api/log",
 "POST /console/api/batches/b20261207101500a1b2c3/abort\n",
 "POST /console/api/actions/dlq-replay\n{\"dead_id\":\"1700000000000-1\"}"]
--- error_code eval
[401, 401, 401, 401]
--- jobs: 0



=== TEST 10: the dead letters: ids, type, attempts, the last error; never the job's patient
--- init
main::dead_letter();
--- request
GET /console/api/dlq
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body chomp
{"entries":[{"id":"1700000000000-1","job_id":"01JDEAD0000000000000000001","type":"helparound.enrollment","attempts":5,"failed_at":"2023-11-14T22:13:20.000Z","error":"Salesforce refused the contact (HTTP 400): REQUIRED_FIELD_MISSING on LastName"}]}
--- response_body_unlike eval
qr/$main::PHI|ha-77/
--- jobs: 0



=== TEST 11: an empty dead-letter queue, no batches
--- request eval
["GET /console/api/dlq", "GET /console/api/batches"]
--- response_body eval
['{"entries":[]}', '{"batches":[]}']
--- jobs: 0



=== TEST 12: the batches and one batch's counters; not its agent
--- init
main::batch();
--- request eval
["GET /console/api/batches",
 "GET /console/api/batches/b20261207101500a1b2c3"]
--- response_body eval
['{"batches":["b20261207101500a1b2c3"]}',
 '{"kind":"healthsherpa","created_at":"2026-12-07T10:15:00.000Z","total":3,"pending":1,"ignored":1,"matched":1,"no_match":1,"created":0,"updated":0,"linked":0,"unlinked":0,"skipped":0,"failed":0,"aborted":0}']
--- response_body_unlike eval
qr/$main::PHI/
--- jobs: 0



=== TEST 13: a batch's results, a page
--- init
main::batch();
--- request
GET /console/api/batches/b20261207101500a1b2c3/results
--- response_body_like eval
qr/^\{"cursor":"0","results":\[(\{"item":"003000000000001AAA","status":"matched","job_id":"b20261207101500a1b2c3-000001","message":"Matched HealthSherpa contact"\},?|\{"item":"003000000000002AAA","status":"no_match","job_id":"b20261207101500a1b2c3-000002","message":"No matching HealthSherpa contact found"\},?){2}\]\}$/
--- jobs: 0



=== TEST 14: batch ids of another shape name no key
--- init
main::batch();
--- request eval
["GET /console/api/batches/b2026120710150",
 "GET /console/api/batches/B20261207101500a1b2c3",
 "GET /console/api/batches/b20261207101500A1B2C3",
 "GET /console/api/batches/b20261207101500a1b2c3x",
 "GET /console/api/batches/*",
 "GET /console/api/batches/b2026120710150%2a1b2c3/results",
 "POST /console/api/batches/b2026120710150*a1b2c3/abort\n"]
--- error_code eval
[404, 404, 404, 404, 404, 404, 404]
--- response_body eval
[('{"errorMessage":"unknown batch"}') x 7]
--- jobs: 0



=== TEST 15: an unknown batch, a cursor that is not a number
--- request eval
["GET /console/api/batches/b20261207101500a1b2c3",
 "GET /console/api/batches/b20261207101500a1b2c3/results?cursor=1;FLUSHALL",
 "POST /console/api/batches/b20261207101500a1b2c3/abort\n"]
--- error_code eval
[404, 400, 404]
--- response_body eval
['{"errorMessage":"unknown batch"}', '{"errorMessage":"cursor must be a number"}',
 '{"errorMessage":"unknown batch"}']
--- jobs: 0



=== TEST 16: abort sets the batch's flag, and only a POST does
--- init
main::batch();
--- request eval
["GET /console/api/batches/b20261207101500a1b2c3/abort",
 "POST /console/api/batches/b20261207101500a1b2c3/abort\n",
 "GET /console/api/batches/b20261207101500a1b2c3"]
--- error_code eval
[405, 200, 200]
--- response_body_like eval
['method not allowed', '^\{"aborted":true\}$', '"aborted":1\}$']
--- jobs: 0



=== TEST 17: the sync log, newest first, by level and time
--- init
main::sync_log();
--- request eval
["GET /console/api/log",
 "GET /console/api/log?level=error",
 "GET /console/api/log?level=exception",
 "GET /console/api/log?level=debug&since=1700000001000",
 "GET /console/api/log?level=warn",
 "GET /console/api/log?since=yesterday"]
--- error_code eval
[200, 200, 200, 200, 400, 400]
--- response_body eval
['{"entries":[{"id":"1700000002000-0","ts":"2023-11-14T22:13:22.000Z","level":"exception","component":"http","msg":"hint: connection refused"},{"id":"1700000001000-0","ts":"2023-11-14T22:13:21.000Z","level":"error","component":"job","msg":"retrying job_id=01JA attempts=1"},{"id":"1700000000000-0","ts":"2023-11-14T22:13:20.000Z","level":"debug","component":"job","msg":"start job_id=01JA type=hint.sync"}]}',
 '{"entries":[{"id":"1700000002000-0","ts":"2023-11-14T22:13:22.000Z","level":"exception","component":"http","msg":"hint: connection refused"},{"id":"1700000001000-0","ts":"2023-11-14T22:13:21.000Z","level":"error","component":"job","msg":"retrying job_id=01JA attempts=1"}]}',
 '{"entries":[{"id":"1700000002000-0","ts":"2023-11-14T22:13:22.000Z","level":"exception","component":"http","msg":"hint: connection refused"}]}',
 '{"entries":[{"id":"1700000002000-0","ts":"2023-11-14T22:13:22.000Z","level":"exception","component":"http","msg":"hint: connection refused"},{"id":"1700000001000-0","ts":"2023-11-14T22:13:21.000Z","level":"error","component":"job","msg":"retrying job_id=01JA attempts=1"}]}',
 '{"errorMessage":"level must be debug, error or exception"}',
 '{"errorMessage":"since must be a time in ms"}']
--- jobs: 0



=== TEST 18: replay: an operator's job, with who asked, for the worker to run
--- more_headers
Authorization: Bearer c0nsole-t0ken
Content-Type: application/json
--- request
POST /console/api/actions/dlq-replay
{"dead_id":"1700000000000-1"}
--- error_code: 202
--- response_body_like chomp
^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"/console/api/jobs/\1"\}$
--- jobs: 1
--- job_fields
type = ops.dlq_replay
action.dead_id = 1700000000000-1
action.actor =~ ^token-[0-9a-f]{12}$
action.contact_id = ABSENT
patient = ABSENT
--- job_record
status = queued
type = ops.dlq_replay



=== TEST 19: replay: the actor is the token's digest, not the token nor what the body says
--- more_headers
Authorization: Bearer c0nsole-t0ken
Content-Type: application/json
--- request
POST /console/api/actions/dlq-replay
{"dead_id":"1700000000000-1","actor":"someone-else"}
--- error_code: 202
--- jobs: 1
--- job_fields eval
"action.actor = token-" . substr(Digest::SHA::sha256_hex('c0nsole-t0ken'), 0, 12)



=== TEST 20: replay: a dead letter's id of another shape
--- more_headers
Authorization: Bearer c0nsole-t0ken
Content-Type: application/json
--- request eval
["POST /console/api/actions/dlq-replay\n{\"dead_id\":\"1700000000000\"}",
 "POST /console/api/actions/dlq-replay\n{\"dead_id\":\"+\"}",
 "POST /console/api/actions/dlq-replay\n{}"]
--- error_code eval
[400, 400, 400]
--- response_body eval
['{"errorMessage":"dead_id must be a dead letter\'s id"}',
 '{"errorMessage":"dead_id must be a dead letter\'s id"}',
 '{"errorMessage":"dead_id is required"}']
--- jobs: 0



=== TEST 21: replay is the console's only: the actions API does not know it
--- more_headers
Authorization: Bearer c0nsole-t0ken
Content-Type: application/json
--- request
POST /caresync/actions/dlq-replay
{"dead_id":"1700000000000-1"}
--- error_code: 404
--- jobs: 0



=== TEST 22: the console's job lookup and actions are the actions API's
--- more_headers
Authorization: Bearer c0nsole-t0ken
Content-Type: application/json
--- request eval
["POST /console/api/actions/hint-unlink\n{\"contact_id\":\"003000000000001AAA\"}",
 "GET /console/api/jobs/not-a-job",
 "GET /console/api/nothing"]
--- error_code eval
[202, 404, 404]
--- response_body_like eval
['"status_url":"/console/api/jobs/', 'unknown job', 'not found']
--- jobs: 1



=== TEST 23: lookup: the jobs about a contact, a Hint patient, a HelpAround patient, newest first
--- init
Caresync::Test::redis_cmd('SADD', '{caresync}:patient:crm:003000000000001AAA',
          '01JA00000000000000000000OA', '01JB00000000000000000000NB',
          'b20261207101500a1b2c3-000001');
Caresync::Test::redis_cmd('SADD', '{caresync}:patient:hint:pat-7_x.1', '01JPAT0000000000000000000A');
Caresync::Test::redis_cmd('SADD', '{caresync}:patient:ha:ha-77', '01JHA00000000000000000000A');
Caresync::Test::redis_cmd('SADD', '{caresync}:patient:crm:003000000000009AAA',
          map { sprintf '01JMANY%019d', $_ } 1 .. 30);
--- request eval
["GET /console/api/lookup?contact=003000000000001AAA",
 "GET /console/api/lookup?patient=pat-7_x.1",
 "GET /console/api/lookup?patient=ha-77",
 "GET /console/api/lookup?contact=003000000000002AAA",
 "GET /console/api/lookup?contact=003000000000009AAA"]
--- response_body eval
['{"jobs":["b20261207101500a1b2c3-000001","01JB00000000000000000000NB","01JA00000000000000000000OA"]}',
 '{"jobs":["01JPAT0000000000000000000A"]}',
 '{"jobs":["01JHA00000000000000000000A"]}',
 '{"jobs":[]}',
 '{"jobs":[' . join(',', map { sprintf '"01JMANY%019d"', $_ } reverse 11 .. 30) . ']}']
--- jobs: 0



=== TEST 24: lookup: ids of another shape are refused, not looked up
--- request eval
["GET /console/api/lookup",
 "GET /console/api/lookup?contact=003000000000001",
 "GET /console/api/lookup?contact=003000000000001A",
 "GET /console/api/lookup?contact=00300000000000*AAA",
 "GET /console/api/lookup?patient=",
 "GET /console/api/lookup?patient=ha%2A1",
 "GET /console/api/lookup?patient=" . ('a' x 65)]
--- error_code eval
[400, 200, 400, 400, 400, 400, 400]
--- response_body_like eval
['give contact= or patient=', '^\{"jobs":\[\]\}$', 'Salesforce id',
 'Salesforce id', 'patient must be a patient id', 'patient must be a patient id',
 'patient must be a patient id']
--- jobs: 0



=== TEST 25: lookup without a token: 401
--- more_headers
--- request
GET /console/api/lookup?contact=003000000000001AAA
--- error_code: 401
--- jobs: 0



=== TEST 26: a batch item's status, by its job id; other shapes are no key
--- init
Caresync::Test::redis_cmd('HSET', '{caresync}:job:b20261207101500a1b2c3-000001',
          status => 'no_match', type => 'batch.item', attempts => 1,
          message => 'No matching HealthSherpa contact found');
--- request eval
["GET /console/api/jobs/b20261207101500a1b2c3-000001",
 "GET /console/api/jobs/b20261207101500a1b2c3-00001",
 "GET /console/api/jobs/b20261207101500a1b2c3_000001",
 "GET /caresync/jobs/b20261207101500a1b2c3-000001"]
--- error_code eval
[200, 404, 404, 200]
--- response_body_like eval
['^\{"status":"no_match",.*"message":"No matching HealthSherpa contact found"',
 'unknown job', 'unknown job', '"status":"no_match"']
--- jobs: 0



=== TEST 27: a job's timeline: the worker's entries, compacted; a broken one left out; other shapes are no key
--- init
Caresync::Test::redis_cmd('RPUSH', '{caresync}:timeline:01JTIME0000000000000000001',
    '{"attempt":1, "started_at":"2026-12-07T10:00:00.000Z","status":"retrying","error":"http_status","http_status":503,"calls":[{"method":"GET","url":"sf.example/services/data/v60.0/query","status":503,"ms":2,"at":"2026-12-07T10:00:00.001Z"}],"calls_dropped":0}',
    'not json {',
    '["an array"]',
    '{"attempt":2,"status":"updated","calls":[{"method":"PATCH","url":"sf.example/services/data/v60.0/sobjects/Contact/{id}","status":204,"ms":3,"at":"2026-12-07T10:00:01.001Z"}],"calls_dropped":0}');
--- request eval
["GET /console/api/timeline/01JTIME0000000000000000001",
 "GET /console/api/timeline/01JNONE0000000000000000001",
 "GET /console/api/timeline/01jtime",
 "GET /console/api/timeline/01JTIME:x"]
--- error_code eval
[200, 200, 404, 404]
--- response_body eval
['{"timeline":[{"attempt":1,"started_at":"2026-12-07T10:00:00.000Z","status":"retrying","error":"http_status","http_status":503,"calls":[{"method":"GET","url":"sf.example/services/data/v60.0/query","status":503,"ms":2,"at":"2026-12-07T10:00:00.001Z"}],"calls_dropped":0},{"attempt":2,"status":"updated","calls":[{"method":"PATCH","url":"sf.example/services/data/v60.0/sobjects/Contact/{id}","status":204,"ms":3,"at":"2026-12-07T10:00:01.001Z"}],"calls_dropped":0}]}',
 '{"timeline":[]}',
 '{"errorMessage":"unknown job"}',
 '{"errorMessage":"unknown job"}']
--- jobs: 0



=== TEST 28: a timeline without a token: 401
--- more_headers
--- request
GET /console/api/timeline/01JTIME0000000000000000001
--- error_code: 401
--- jobs: 0
