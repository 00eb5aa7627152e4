# W3C trace context at the edge (cs_trace.h): a sender's `traceparent`
# is taken only when it is exactly version 00 with non-zero lower-case
# ids; the job then records the same trace with the edge's own span.
# Anything else (and no header) starts a new trace.  The header's bytes
# are never echoed: not in the answer, not in the module's log lines
# (nginx's own debug log prints every request header).

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

=== TEST 1: a valid traceparent: the trace and its flags are kept, the span is the edge's own
--- more_headers
Content-Type: application/json
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
--- request eval
enrollment_with()
--- error_code: 200
--- raw_response_headers_unlike
(?i)traceparent
--- jobs: 1
--- job_fields
traceparent =~ ^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$
traceparent =~ ^(?!.*00f067aa0ba902b7)



=== TEST 2: flags 00 (not sampled) are kept as sent
--- more_headers
Content-Type: application/json
traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00
--- request eval
enrollment_with()
--- error_code: 200
--- jobs: 1
--- job_fields
traceparent =~ ^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$



=== TEST 3: no traceparent: a new trace is started, sampled
--- request eval
enrollment_with()
--- error_code: 200
--- jobs: 1
--- job_fields
traceparent =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-01$
traceparent =~ ^00-(?!0{32})



=== TEST 4: upper-case hex is invalid: a new trace, and the log says so without the value
--- more_headers
Content-Type: application/json
traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01
--- request eval
enrollment_with()
--- error_code: 200
--- jobs: 1
--- job_fields
traceparent =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-01$
traceparent =~ ^00-(?!4bf92f3577b34da6a3ce929d0e0e4736)
--- error_log
invalid traceparent, a new trace started
--- no_error_log
caresync.*4BF92F3577B34DA6



=== TEST 5: a version other than 00 is not guessed at: a new trace
--- more_headers
Content-Type: application/json
traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
--- request eval
enrollment_with()
--- error_code: 200
--- jobs: 1
--- job_fields
traceparent =~ ^00-(?!4bf92f3577b34da6a3ce929d0e0e4736)[0-9a-f]{32}-[0-9a-f]{16}-01$
--- error_log
invalid traceparent



=== TEST 6: an all-zero trace id or parent id is invalid
--- more_headers
Content-Type: application/json
traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01
--- request eval
enrollment_with()
--- error_code: 200
--- jobs: 1
--- job_fields
traceparent =~ ^00-(?!0{32})[0-9a-f]{32}-(?!00f067aa0ba902b7)[0-9a-f]{16}-01$



=== TEST 7: a zero parent id: a new trace
--- more_headers
Content-Type: application/json
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01
--- request eval
enrollment_with()
--- error_code: 200
--- jobs: 1
--- job_fields
traceparent =~ ^00-(?!4bf92f3577b34da6a3ce929d0e0e4736)[0-9a-f]{32}-[0-9a-f]{16}-01$



=== TEST 8: two traceparent headers: which one is meant is unknown, a new trace
--- more_headers
Content-Type: application/json
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
--- request eval
enrollment_with()
--- error_code: 200
--- jobs: 1
--- job_fields
traceparent =~ ^00-(?!4bf92f3577b34da6a3ce929d0e0e4736|0af7651916cd43dd8448eb211c80319c)[0-9a-f]{32}-[0-9a-f]{16}-01$



=== TEST 9: junk after a valid prefix, and a sender's text in the header: a new trace, nothing of it kept
--- more_headers
Content-Type: application/json
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-zz-sender-bytes
--- request eval
enrollment_with()
--- error_code: 200
--- jobs: 1
--- job_fields
traceparent =~ ^00-(?!4bf92f3577b34da6a3ce929d0e0e4736)[0-9a-f]{32}-[0-9a-f]{16}-01$
--- no_error_log
caresync.*zz-sender-bytes



=== TEST 10: the actions API takes the trace the same way
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
}
--- more_headers
Content-Type: application/json
Authorization: Bearer t0ken
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
--- request eval
post_body('/caresync/actions/healthsherpa-sync',
          '{"contact_id":"003000000000001AAA","agent":"agent@example.com"}')
--- error_code: 202
--- jobs: 1
--- job_fields
type = healthsherpa.sync
traceparent =~ ^00-4bf92f3577b34da6a3ce929d0e0e4736-(?!00f067aa0ba902b7)[0-9a-f]{16}-01$
