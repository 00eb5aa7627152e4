# Redis trouble (spec/inbound.md §5): never a 200 for a job that is not in
# Redis, recovery once Redis is back, at-least-once with dedupe, a client
# that goes away while the enqueue is in flight, the key prefix, and a
# Redis that asks for a password (caresync_redis password=file:).

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

use File::Temp qw(tempdir);

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;',
    config       => 'location = /webhook/user-enrollment { caresync_webhook helparound_enrollment; caresync_auth off; }',
    more_headers => 'Content-Type: application/json',
);

# The Redis password, read from files (password=file:/path), mode 0600 as
# nginx requires: the right one with the newline an editor leaves, and a
# wrong one. The paths reach the config as $TEST_NGINX_REDIS_PW_*.
{
    my $dir = tempdir('caresync-redis-pw-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my %files = (
        TEST_NGINX_REDIS_PW_RIGHT => "redis-pa55-right\n",
        TEST_NGINX_REDIS_PW_WRONG => "redis-pa55-wrong\n",
    );
    for my $var (sort keys %files) {
        my $path = "$dir/" . lc($var);
        open my $out, '>', $path or die "$path: $!";
        print $out $files{$var};
        close $out or die "$path: $!";
        chmod 0600, $path or die "$path: $!";
        $ENV{$var} = $path;
    }
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: Redis down: 503 with Retry-After, nothing queued
--- redis_down
--- request eval
enrollment_with()
--- error_code: 503
--- response_headers_like
Content-Type: application/json
Retry-After: \d+
--- response_body chomp
{"errorMessage":"temporarily unavailable"}
--- jobs: 0



=== TEST 2: Redis comes back: the module reconnects by itself and the retry is queued
--- redis_down
--- redis_start_after: 0
--- request eval
[enrollment_with(), enrollment_with()]
--- error_code eval
[503, 200]
--- response_body eval
['{"errorMessage":"temporarily unavailable"}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 1
--- job_fields
type = helparound.enrollment



=== TEST 3: Redis alive but silent past the timeout: 503; the sender's retry after the pause: 200, exactly one job
--- http_config
caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=200ms; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;
--- redis_pause: 1500
--- request eval
[enrollment_with(), enrollment_with()]
--- error_code eval
[503, 200]
--- response_body eval
['{"errorMessage":"temporarily unavailable"}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 1



=== TEST 4: the client goes away while the enqueue is in flight: nginx survives, the retry gets 200, one job
--- redis_pause: 1000
--- timeout: 0.2
--- abort
--- request eval
[enrollment_with(), enrollment_with()]
--- error_code eval
['', 200]
--- response_headers eval
['', 'Content-Type: application/json']
--- response_body eval
['',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- no_error_log
[alert]
[emerg]
segmentation
--- jobs: 1



=== TEST 5: caresync_prefix: the job goes to {acme}:jobs and every key is under {acme}
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth off;
    caresync_prefix "{acme}";
}
--- request eval
enrollment_with()
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs_prefix: {acme}
--- jobs: 1
--- job_fields
type = helparound.enrollment



=== TEST 6: caresync_dedupe_ttl: once the window is over, the same delivery is queued again
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth off;
    caresync_dedupe_ttl 1s;
}
--- request eval
[enrollment_with(), enrollment_with()]
--- wait: 1.5
--- error_code eval
[200, 200]
--- response_body eval
['{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 2



=== TEST 7: a Redis that asks for a password: password=file:/path (trailing newline not part of it): 200, the job in Redis
--- redis_requirepass: redis-pa55-right
--- http_config
caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT password=file:$TEST_NGINX_REDIS_PW_RIGHT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;
--- request eval
enrollment_with()
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
type = helparound.enrollment
--- no_error_log
redis-pa55



=== TEST 8: the same Redis, no password configured: 503, nothing queued
--- redis_requirepass: redis-pa55-right
--- request eval
[enrollment_with(), enrollment_with()]
--- error_code eval
[503, 503]
--- response_body eval
[('{"errorMessage":"temporarily unavailable"}') x 2]
--- jobs: 0
--- error_log
NOAUTH



=== TEST 9: a wrong password in the file: 503, nothing queued, the log says AUTH failed and holds neither password
--- redis_requirepass: redis-pa55-right
--- http_config
caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT password=file:$TEST_NGINX_REDIS_PW_WRONG; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;
--- request eval
enrollment_with()
--- error_code: 503
--- response_body chomp
{"errorMessage":"temporarily unavailable"}
--- jobs: 0
--- error_log
caresync: redis AUTH failed: WRONGPASS
--- no_error_log
redis-pa55
