# The metrics location (caresync_metrics, spec/inbound.md §5): Prometheus
# text of the counters in shared memory, which every request of one nginx
# run adds to (so each block sends its requests, then GETs /metrics last).
#
# The GET's body goes through metrics_samples() (t/lib/Caresync/Test.pm),
# which drops the comment lines and the timing-dependent figures (finite
# latency buckets, latency sum) and lists any label value that is not one
# of our own words or numbers: the rest is compared exactly, so a label
# can carry nothing from a request body.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;',
    config       => <<'_C_',
location = /metrics { caresync_metrics; }
location = /webhook/user-enrollment { caresync_webhook helparound_enrollment; caresync_auth off; }
location = /webhook/hint { caresync_webhook hint; caresync_auth off; }
_C_
    more_headers => 'Content-Type: application/json',
);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: nothing yet: every counter at zero, no request or reject line
--- request
GET /metrics
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body_filters eval
\&metrics_samples
--- response_body
caresync_dedupe_hits_total{endpoint="helparound_enrollment"} 0
caresync_dedupe_hits_total{endpoint="helparound_user_action"} 0
caresync_dedupe_hits_total{endpoint="hint"} 0
caresync_dedupe_hits_total{endpoint="api"} 0
caresync_not_synced_total{endpoint="helparound_enrollment"} 0
caresync_not_synced_total{endpoint="helparound_user_action"} 0
caresync_not_synced_total{endpoint="hint"} 0
caresync_not_synced_total{endpoint="api"} 0
caresync_redis_errors_total 0
caresync_redis_reconnects_total 0
caresync_enqueue_seconds_bucket{endpoint="helparound_enrollment",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="helparound_enrollment"} 0
caresync_enqueue_seconds_bucket{endpoint="helparound_user_action",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="helparound_user_action"} 0
caresync_enqueue_seconds_bucket{endpoint="hint",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="hint"} 0
caresync_enqueue_seconds_bucket{endpoint="api",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="api"} 0
--- jobs: 0



=== TEST 2: a 200, a 400 and a duplicate: requests by status, the reject's reason, the dedupe hit, two enqueues
--- request eval
[enrollment_with(),
 enrollment_with(sub { delete $_[0]{event}{patient}{firstName} }),
 enrollment_with(),
 'GET /metrics']
--- error_code eval
[200, 400, 200, 200]
--- response_headers eval
[('Content-Type: application/json') x 3, 'Content-Type: text/plain; version=0.0.4']
--- response_body_filters eval
[[], [], [], [\&metrics_samples]]
--- response_body eval
['{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"errorMessage":"event.patient.firstName is required","data":{"patientId":"ha61236024160af"}}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 <<'_M_']
caresync_requests_total{endpoint="helparound_enrollment",status="200"} 2
caresync_requests_total{endpoint="helparound_enrollment",status="400"} 1
caresync_rejects_total{endpoint="helparound_enrollment",reason="missing_field"} 1
caresync_dedupe_hits_total{endpoint="helparound_enrollment"} 1
caresync_dedupe_hits_total{endpoint="helparound_user_action"} 0
caresync_dedupe_hits_total{endpoint="hint"} 0
caresync_dedupe_hits_total{endpoint="api"} 0
caresync_not_synced_total{endpoint="helparound_enrollment"} 0
caresync_not_synced_total{endpoint="helparound_user_action"} 0
caresync_not_synced_total{endpoint="hint"} 0
caresync_not_synced_total{endpoint="api"} 0
caresync_redis_errors_total 0
caresync_redis_reconnects_total 0
caresync_enqueue_seconds_bucket{endpoint="helparound_enrollment",le="+Inf"} 2
caresync_enqueue_seconds_count{endpoint="helparound_enrollment"} 2
caresync_enqueue_seconds_bucket{endpoint="helparound_user_action",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="helparound_user_action"} 0
caresync_enqueue_seconds_bucket{endpoint="hint",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="hint"} 0
caresync_enqueue_seconds_bucket{endpoint="api",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="api"} 0
_M_
--- jobs: 1



=== TEST 3: the latency histogram is cumulative and ends with +Inf = count
--- request eval
[enrollment_with(), 'GET /metrics']
--- response_headers eval
['Content-Type: application/json', 'Content-Type: text/plain; version=0.0.4']
--- response_body_like eval
['^\{"success":true,',
 '(?ms)caresync_enqueue_seconds_bucket\{endpoint="helparound_enrollment",le="0\.001"\} [01]$.*'
 . 'caresync_enqueue_seconds_bucket\{endpoint="helparound_enrollment",le="2\.500"\} 1$\n'
 . 'caresync_enqueue_seconds_bucket\{endpoint="helparound_enrollment",le="\+Inf"\} 1$\n'
 . 'caresync_enqueue_seconds_sum\{endpoint="helparound_enrollment"\} \d+\.\d{3}$\n'
 . 'caresync_enqueue_seconds_count\{endpoint="helparound_enrollment"\} 1$']
--- jobs: 1



=== TEST 4: Hint: synced, not synced (whatever its type says), 400s by reason, 405, 415
--- request eval
[hint_with(),
 hint_with(sub { $_[0]{type} = qq(membership.updated"} 999\ncaresync_requests_total{endpoint="Maria Lopez) },
           'hint/membership.updated.json'),
 hint_with(sub { delete $_[0]{object}{id} }),
 hint_with(sub { $_[0]{object}{last_name} = 7 }),
 post_body('/webhook/hint', '{"id":"evt-1",'),
 'GET /webhook/hint',
 hint_with(),
 'GET /metrics']
--- more_headers eval
[('Content-Type: application/json') x 6, 'Content-Type: text/plain', '']
--- error_code eval
[200, 200, 400, 400, 400, 405, 415, 200]
--- response_headers eval
[('Content-Type: application/json') x 7, 'Content-Type: text/plain; version=0.0.4']
--- response_body_filters eval
[[], [], [], [], [], [], [], [\&metrics_samples]]
--- response_body eval
['{"received":true,"id":"evt-2QfX8c91"}',
 '{"received":true,"id":"evt-2QfX8m77"}',
 '{"errorMessage":"object.id is required","data":{"id":"evt-2QfX8c91"}}',
 '{"errorMessage":"object.last_name must be a string","data":{"id":"evt-2QfX8c91"}}',
 '{"errorMessage":"body is not valid JSON","data":{}}',
 '{"errorMessage":"method not allowed"}',
 '{"errorMessage":"Content-Type must be application/json"}',
 <<'_M_']
caresync_requests_total{endpoint="hint",status="200"} 2
caresync_requests_total{endpoint="hint",status="400"} 3
caresync_requests_total{endpoint="hint",status="405"} 1
caresync_requests_total{endpoint="hint",status="415"} 1
caresync_rejects_total{endpoint="hint",reason="bad_json"} 1
caresync_rejects_total{endpoint="hint",reason="missing_field"} 1
caresync_rejects_total{endpoint="hint",reason="wrong_type"} 1
caresync_rejects_total{endpoint="hint",reason="method"} 1
caresync_rejects_total{endpoint="hint",reason="content_type"} 1
caresync_dedupe_hits_total{endpoint="helparound_enrollment"} 0
caresync_dedupe_hits_total{endpoint="helparound_user_action"} 0
caresync_dedupe_hits_total{endpoint="hint"} 0
caresync_dedupe_hits_total{endpoint="api"} 0
caresync_not_synced_total{endpoint="helparound_enrollment"} 0
caresync_not_synced_total{endpoint="helparound_user_action"} 0
caresync_not_synced_total{endpoint="hint"} 1
caresync_not_synced_total{endpoint="api"} 0
caresync_redis_errors_total 0
caresync_redis_reconnects_total 0
caresync_enqueue_seconds_bucket{endpoint="helparound_enrollment",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="helparound_enrollment"} 0
caresync_enqueue_seconds_bucket{endpoint="helparound_user_action",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="helparound_user_action"} 0
caresync_enqueue_seconds_bucket{endpoint="hint",le="+Inf"} 1
caresync_enqueue_seconds_count{endpoint="hint"} 1
caresync_enqueue_seconds_bucket{endpoint="api",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="api"} 0
_M_
--- jobs: 1



=== TEST 5: refusals of the auth checks and of the API, each under its endpoint and reason
--- config
location = /metrics { caresync_metrics; }
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
    client_max_body_size 1k;
}
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret;
}
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
}
--- request eval
[post_body('/webhook/user-enrollment', '{"event":{}}'),
 enrollment_with(),
 hint_with(),
 post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}'),
 post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}'),
 'GET /caresync/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV',
 'GET /metrics']
--- more_headers eval
["Content-Type: application/json",
 "Content-Type: application/json\nX-Partner-Secret: s3cret",
 "Content-Type: application/json\nX-Hint-Signature: sha256=" . ('0' x 64),
 "Content-Type: application/json",
 "Content-Type: application/json\nAuthorization: Bearer t0ken",
 "Authorization: Bearer t0ken",
 ""]
--- error_code eval
[401, 413, 401, 401, 202, 404, 200]
--- response_headers eval
[('Content-Type: application/json') x 6, 'Content-Type: text/plain; version=0.0.4']
--- response_body_filters eval
[[], [], [], [], [], [], [\&metrics_samples]]
--- response_body eval
['{"errorMessage":"missing or invalid credentials"}',
 '{"errorMessage":"request body too large"}',
 '{"errorMessage":"invalid signature"}',
 '{"errorMessage":"missing or invalid bearer token"}',
 qr/^\{"job_id":"([0-9A-HJKMNP-TV-Z]{26})","status_url":"\/caresync\/jobs\/\1"\}$/,
 '{"errorMessage":"unknown job"}',
 <<'_M_']
caresync_requests_total{endpoint="helparound_enrollment",status="401"} 1
caresync_requests_total{endpoint="helparound_enrollment",status="413"} 1
caresync_requests_total{endpoint="hint",status="401"} 1
caresync_requests_total{endpoint="api",status="202"} 1
caresync_requests_total{endpoint="api",status="401"} 1
caresync_requests_total{endpoint="api",status="404"} 1
caresync_rejects_total{endpoint="helparound_enrollment",reason="body_too_large"} 1
caresync_rejects_total{endpoint="helparound_enrollment",reason="auth"} 1
caresync_rejects_total{endpoint="hint",reason="signature"} 1
caresync_rejects_total{endpoint="api",reason="auth"} 1
caresync_rejects_total{endpoint="api",reason="not_found"} 1
caresync_dedupe_hits_total{endpoint="helparound_enrollment"} 0
caresync_dedupe_hits_total{endpoint="helparound_user_action"} 0
caresync_dedupe_hits_total{endpoint="hint"} 0
caresync_dedupe_hits_total{endpoint="api"} 0
caresync_not_synced_total{endpoint="helparound_enrollment"} 0
caresync_not_synced_total{endpoint="helparound_user_action"} 0
caresync_not_synced_total{endpoint="hint"} 0
caresync_not_synced_total{endpoint="api"} 0
caresync_redis_errors_total 0
caresync_redis_reconnects_total 0
caresync_enqueue_seconds_bucket{endpoint="helparound_enrollment",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="helparound_enrollment"} 0
caresync_enqueue_seconds_bucket{endpoint="helparound_user_action",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="helparound_user_action"} 0
caresync_enqueue_seconds_bucket{endpoint="hint",le="+Inf"} 0
caresync_enqueue_seconds_count{endpoint="hint"} 0
caresync_enqueue_seconds_bucket{endpoint="api",le="+Inf"} 2
caresync_enqueue_seconds_count{endpoint="api"} 2
_M_
--- jobs: 1



=== TEST 6: Redis down: the 503 is counted, and so are the Redis errors
--- redis_down
--- request eval
[enrollment_with(), enrollment_with(), 'GET /metrics']
--- error_code eval
[503, 503, 200]
--- response_headers_like eval
[("Content-Type: application/json\nRetry-After: \\d+") x 2,
 'Content-Type: text/plain; version=0.0.4']
--- response_body_like eval
[('^\{"errorMessage":"temporarily unavailable"\}$') x 2,
 '(?ms)\A(?=.*^caresync_requests_total\{endpoint="helparound_enrollment",status="503"\} 2$)'
 . '(?=.*^caresync_redis_errors_total [1-9][0-9]*$)'
 . '(?=.*^caresync_enqueue_seconds_count\{endpoint="helparound_enrollment"\} 0$)'
 . '(?!.*^caresync_rejects_total)']
--- jobs: 0
