# What every webhook endpoint does before looking at the fields
# (spec/inbound.md §5): method, Content-Type, body size, and the JSON
# hygiene rules (depth, UTF-8, NUL, duplicate keys, top-level type).
# Nothing of this is ever queued.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;',
    config       => 'location = /webhook/user-enrollment { caresync_webhook helparound_enrollment; caresync_auth off; }',
    more_headers => 'Content-Type: application/json',
);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: GET is not allowed
--- request
GET /webhook/user-enrollment
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body chomp
{"errorMessage":"method not allowed"}
--- jobs: 0



=== TEST 2: Content-Type text/plain
--- request eval
enrollment_with()
--- more_headers
Content-Type: text/plain
--- error_code: 415
--- response_body chomp
{"errorMessage":"Content-Type must be application/json"}
--- jobs: 0



=== TEST 3: no Content-Type at all
--- request eval
enrollment_with()
--- more_headers
--- error_code: 415
--- response_body chomp
{"errorMessage":"Content-Type must be application/json"}
--- jobs: 0



=== TEST 4: application/json with a charset parameter is JSON
--- request eval
enrollment_with()
--- more_headers
Content-Type: application/json; charset=utf-8
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1



=== TEST 5: a +json media type is JSON
--- request eval
enrollment_with()
--- more_headers
Content-Type: application/vnd.helparound+json
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1



=== TEST 6: a body over client_max_body_size (Content-Length): 413 in JSON
--- config
location = /webhook/user-enrollment {
    client_max_body_size 1k;
    caresync_webhook helparound_enrollment;
    caresync_auth off;
}
--- request eval
enrollment_with()
--- error_code: 413
--- response_body chomp
{"errorMessage":"request body too large"}
--- jobs: 0



=== TEST 7: a body over client_max_body_size (chunked): 413 in JSON
--- config
location = /webhook/user-enrollment {
    client_max_body_size 1k;
    caresync_webhook helparound_enrollment;
    caresync_auth off;
}
--- request eval
"POST /webhook/user-enrollment\n" . chunked_body(json_encode(fixture_json('helparound/enrollment.json')))
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- error_code: 413
--- response_body chomp
{"errorMessage":"request body too large"}
--- jobs: 0



=== TEST 8: a chunked body under the limit is read like any other
--- request eval
"POST /webhook/user-enrollment\n" . chunked_body(json_encode(fixture_json('helparound/enrollment.json')))
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1



=== TEST 9: nested 33 levels deep
--- request eval
post_body('/webhook/user-enrollment', nested_json(33))
--- error_code: 400
--- response_body chomp
{"errorMessage":"body is nested deeper than 32 levels","data":{}}
--- jobs: 0



=== TEST 10: nested 32 levels deep is JSON (and then lacks the fields)
--- request eval
post_body('/webhook/user-enrollment', nested_json(32))
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.supportProgramId is required","data":{}}
--- jobs: 0



=== TEST 11: caresync_max_depth 40 lets 33 levels through
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth off;
    caresync_max_depth 40;
}
--- request eval
[post_body('/webhook/user-enrollment', nested_json(33)),
 post_body('/webhook/user-enrollment', nested_json(41))]
--- error_code eval
[400, 400]
--- response_body eval
['{"errorMessage":"event.supportProgramId is required","data":{}}',
 '{"errorMessage":"body is nested deeper than 40 levels","data":{}}']
--- jobs: 0



=== TEST 12: invalid UTF-8
--- request eval
post_body('/webhook/user-enrollment', qq({"a":"\xc3\x28"}))
--- error_code: 400
--- response_body chomp
{"errorMessage":"body is not valid UTF-8","data":{}}
--- jobs: 0



=== TEST 13: a raw NUL byte
--- request eval
post_body('/webhook/user-enrollment', qq({"a":"x\x00y"}))
--- error_code: 400
--- response_body chomp
{"errorMessage":"body contains a NUL character","data":{}}
--- jobs: 0



=== TEST 14: a \u0000 escape
--- request eval
post_body('/webhook/user-enrollment', q({"a":"x\u0000y"}))
--- error_code: 400
--- response_body chomp
{"errorMessage":"body contains a NUL character","data":{}}
--- jobs: 0



=== TEST 15: a duplicate key
--- request eval
post_body('/webhook/user-enrollment', q({"a":1,"a":2}))
--- error_code: 400
--- response_body chomp
{"errorMessage":"body has a duplicate key","data":{}}
--- jobs: 0



=== TEST 16: a top-level array
--- request eval
post_body('/webhook/user-enrollment', q([{"event":{}}]))
--- error_code: 400
--- response_body chomp
{"errorMessage":"body must be a JSON object","data":{}}
--- jobs: 0
