# Sealed jobs (caresync_job_key): what Redis holds of each kind of job is
# its readable head and the sealed member, never the patient or the raw
# copy; opened (by Caresync::Test, with Python's AES-GCM, not ours) it is
# the job as before.  The last key listed seals.  With
# `caresync_job_key off` the same search finds the PHI: the proof that
# the automatic check of every block (no PHI pattern readable in
# {caresync}:jobs) can fail.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

$ENV{TEST_NGINX_JOB_KEY2} = job_key_file('t2');

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;',
    config       => 'location = /webhook/user-enrollment { caresync_webhook helparound_enrollment; caresync_auth off; }
                     location = /webhook/user-action { caresync_webhook helparound_user_action; caresync_auth off; }
                     location = /webhook/hint { caresync_webhook hint; caresync_auth off; }
                     location /caresync/ { caresync_api; caresync_auth off; }',
    more_headers => 'Content-Type: application/json',
);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an enrollment: Redis holds the head and the sealed member only
--- request eval
post_body('/webhook/user-enrollment', fixture('helparound/enrollment.json'))
--- error_code: 200
--- jobs: 1
--- raw_job_fields
v = 1
id =~ ^[0-9A-Z]{26}$
type = helparound.enrollment
received_at =~ ^\d{4}-\d\d-\d\dT
idempotency_key =~ ^[0-9a-f]{64}$
source.system = helparound
source.program_id = 78ef982b-00ea-39c2-a875-f549c40e92ad
sealed.kid = t1
sealed.iv =~ ^[A-Za-z0-9+/]{16}$
sealed.ct =~ ^[A-Za-z0-9+/]{100,}={0,2}$
patient = ABSENT
raw = ABSENT
--- job_fields
patient.first_name = John
patient.phones.0.number = +12027953213
patient.insurance.secondary.member_id = 234234
raw.event.patient.id = ha61236024160af



=== TEST 2: a user action: sealed, its action readable
--- request eval
post_body('/webhook/user-action', fixture('helparound/user-action.json'))
--- error_code: 200
--- jobs: 1
--- raw_job_fields
type = helparound.user_action
action.user_action = viewedTracker
action.at = 2021-08-23T08:45:24.000Z
sealed.kid = t1
patient = ABSENT
--- job_fields
patient.source_id = ha61236024160af
patient.phones.0.number = +12027953213



=== TEST 3: a Hint event: sealed
--- request eval
post_body('/webhook/hint', fixture('hint/patient.updated.json'))
--- error_code: 200
--- jobs: 1
--- raw_job_fields
type = hint.patient
source.system = hint
sealed.kid = t1
patient = ABSENT
raw = ABSENT
--- job_fields
patient.first_name = Maria
patient.email = maria.lopez@example.org



=== TEST 4: a CRM action: its ids readable, the raw copy sealed
--- request eval
post_body('/caresync/actions/healthsherpa-sync', '{"contact_id":"003000000000001AAA","agent":"agent@example.org"}')
--- error_code: 202
--- response_body_like: ^\{"job_id":"[0-9A-Z]{26}"
--- jobs: 1
--- raw_job_fields
type = healthsherpa.sync
action.contact_id = 003000000000001AAA
action.agent = agent@example.org
sealed.kid = t1
raw = ABSENT
--- job_fields
raw.contact_id = 003000000000001AAA



=== TEST 5: two keys: the last one listed seals
--- http_config
caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;
caresync_job_key t2 file:$TEST_NGINX_JOB_KEY2;
--- request eval
post_body('/webhook/user-enrollment', fixture('helparound/enrollment.json'))
--- error_code: 200
--- jobs: 1
--- raw_job_fields
sealed.kid = t2
patient = ABSENT
--- job_fields
patient.last_name = Doe



=== TEST 6: caresync_job_key off: the job in the clear, and the search finds its PHI
--- http_config
caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
caresync_job_key off;
--- request eval
post_body('/webhook/user-enrollment', fixture('helparound/enrollment.json'))
--- error_code: 200
--- jobs: 1
--- jobs_in_clear
--- raw_job_fields
sealed = ABSENT
patient.first_name = John
--- error_log
"caresync_job_key off": jobs are queued with their PHI readable in Redis
