# Who may post (spec/inbound.md §5): the shared-secret header of the
# HelpAround endpoints (caresync_auth_header) and Standard Webhooks
# signatures (caresync_standard_webhooks): the 401s, key rotation, the
# timestamp tolerance, and replays, which the webhook-id dedupes for as
# long as the timestamp could be accepted.
#
# Standard Webhooks timestamps are taken with time() in --- more_headers
# eval, that is when the file's blocks are read, a few seconds at most
# before the request: every timestamp here is either well within the
# tolerance or well outside it.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

use File::Temp qw(tempdir);

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;',
    config       => <<'_C_',
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
}
location = /webhook/user-action {
    caresync_webhook helparound_user_action;
    caresync_auth_header X-Partner-Secret s3cret;
}
_C_
    more_headers => 'Content-Type: application/json',
);

# A secret read from a file (file:/path): written here, so that both
# runners see it; the path reaches the config as $TEST_NGINX_PARTNER_SECRET_FILE.
{
    my $dir = tempdir('caresync-auth-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $path = "$dir/partner.secret";
    open my $out, '>', $path or die "$path: $!";
    print $out "s3cret-from-file\n";
    close $out or die "$path: $!";
    chmod 0600, $path or die "$path: $!";   # nginx refuses more
    $ENV{TEST_NGINX_PARTNER_SECRET_FILE} = $path;
}

# A captured message, replayed as it was (same id, timestamp, signature)
# by the blocks that say so: signed once, here.
our $CAPTURED = "Content-Type: application/json\n"
    . standard_webhook_headers('whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==',
                               'msg_captured', body_of(enrollment_with()));

no_shuffle();
run_tests();

__DATA__

=== TEST 1: auth header: the right secret: 200, one job
--- request eval
enrollment_with()
--- more_headers
Content-Type: application/json
X-Partner-Secret: s3cret
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
type = helparound.enrollment



=== TEST 2: auth header: missing: 401, nothing queued
--- request eval
enrollment_with()
--- error_code: 401
--- response_body chomp
{"errorMessage":"missing or invalid credentials"}
--- jobs: 0



=== TEST 3: auth header: wrong, other case, longer, shorter, empty: 401 each
--- request eval
[enrollment_with(), enrollment_with(), enrollment_with(), enrollment_with(), enrollment_with()]
--- more_headers eval
["Content-Type: application/json\nX-Partner-Secret: secret",
 "Content-Type: application/json\nX-Partner-Secret: S3CRET",
 "Content-Type: application/json\nX-Partner-Secret: s3cret2",
 "Content-Type: application/json\nX-Partner-Secret: s3cre",
 "Content-Type: application/json\nX-Partner-Secret: "]
--- error_code eval
[401, 401, 401, 401, 401]
--- response_body eval
[('{"errorMessage":"missing or invalid credentials"}') x 5]
--- jobs: 0



=== TEST 4: auth header: the secret under another header name does not count
--- request eval
enrollment_with()
--- more_headers
Content-Type: application/json
X-Partner-Token: s3cret
--- error_code: 401
--- response_body chomp
{"errorMessage":"missing or invalid credentials"}
--- jobs: 0



=== TEST 5: auth header: the header name in any case
--- request eval
enrollment_with()
--- more_headers
Content-Type: application/json
x-partner-secret: s3cret
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1



=== TEST 6: auth header: checked before the Content-Type and the body
--- request eval
[enrollment_with(), post_body('/webhook/user-enrollment', '{"event":')]
--- more_headers eval
["Content-Type: text/plain", "Content-Type: application/json"]
--- error_code eval
[401, 401]
--- response_body eval
['{"errorMessage":"missing or invalid credentials"}',
 '{"errorMessage":"missing or invalid credentials"}']
--- jobs: 0



=== TEST 7: auth header: the user-action endpoint too
--- request eval
[user_action_with(), user_action_with()]
--- more_headers eval
["Content-Type: application/json",
 "Content-Type: application/json\nX-Partner-Secret: s3cret"]
--- error_code eval
[401, 200]
--- response_body eval
['{"errorMessage":"missing or invalid credentials"}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 1
--- job_fields
type = helparound.user_action



=== TEST 8: auth header: a location that says "caresync_auth off" asks for nothing
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth off;
}
--- request eval
enrollment_with()
--- more_headers
Content-Type: application/json
X-Partner-Secret: anything
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1



=== TEST 9: auth header: the secret read from a file, its trailing newline not part of it
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret file:$TEST_NGINX_PARTNER_SECRET_FILE;
}
--- request eval
[enrollment_with(), enrollment_with()]
--- more_headers eval
["Content-Type: application/json\nX-Partner-Secret: file:$ENV{TEST_NGINX_PARTNER_SECRET_FILE}",
 "Content-Type: application/json\nX-Partner-Secret: s3cret-from-file"]
--- error_code eval
[401, 200]
--- response_body eval
['{"errorMessage":"missing or invalid credentials"}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 1



=== TEST 10: Standard Webhooks: a valid signature: 200, one job; the event keeps its own idempotency key
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
}
--- request eval
enrollment_with()
--- more_headers eval
"Content-Type: application/json\n"
. standard_webhook_headers('whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==',
                           'msg_2f8Kq1', body_of(enrollment_with()))
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields eval
"type = helparound.enrollment\n"
. "idempotency_key = " . Digest::SHA::sha256_hex(
    "HelpAround.Patient.CompleteEnrollment\n78ef982b-00ea-39c2-a875-f549c40e92ad\n"
    . "ha61236024160af\n2021-08-23T08:45:24.000Z") . "\n"



=== TEST 11: Standard Webhooks: signed with a secret that is not configured: 401
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
}
--- request eval
enrollment_with()
--- more_headers eval
"Content-Type: application/json\n"
. standard_webhook_headers('whsec_Y2FyZXN5bmMtc3ctbm90LW91cnM=',
                           'msg_2f8Kq1', body_of(enrollment_with()))
--- error_code: 401
--- response_body chomp
{"errorMessage":"invalid signature"}
--- jobs: 0



=== TEST 12: Standard Webhooks: the body, the id or the timestamp changed after signing: 401
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
}
--- request eval
[enrollment_with(sub { $_[0]{event}{patient}{firstName} = phi_values()->{first_name} }),
 enrollment_with(),
 enrollment_with()]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
my $body = body_of(enrollment_with());
my $t = time;
["Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_2f8Kq1', $body),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_other', $body,
       signature => standard_webhook_signature($secret, 'msg_2f8Kq1', $t, $body),
       timestamp => $t),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_2f8Kq1', $body,
       signature => standard_webhook_signature($secret, 'msg_2f8Kq1', $t - 1, $body),
       timestamp => $t)]
--- error_code eval
[401, 401, 401]
--- response_body eval
[('{"errorMessage":"invalid signature"}') x 3]
--- jobs: 0



=== TEST 13: Standard Webhooks: webhook-id, webhook-timestamp or webhook-signature missing: 401
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
}
--- request eval
[enrollment_with(), enrollment_with(), enrollment_with(), enrollment_with()]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
my $body = body_of(enrollment_with());
["Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_2f8Kq1', $body, omit => 'webhook-id'),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_2f8Kq1', $body, omit => 'webhook-timestamp'),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_2f8Kq1', $body, omit => 'webhook-signature'),
 "Content-Type: application/json"]
--- error_code eval
[401, 401, 401, 401]
--- response_body eval
[('{"errorMessage":"missing signature"}') x 4]
--- jobs: 0



=== TEST 14: Standard Webhooks: a timestamp 10 minutes old, or 10 minutes ahead: 401
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
}
--- request eval
[enrollment_with(), enrollment_with()]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
my $body = body_of(enrollment_with());
["Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_2f8Kq1', $body, timestamp => time - 600),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_2f8Kq1', $body, timestamp => time + 600)]
--- error_code eval
[401, 401]
--- response_body eval
[('{"errorMessage":"signature timestamp out of tolerance"}') x 2]
--- jobs: 0



=== TEST 15: Standard Webhooks: the default tolerance is 5 minutes, tolerance= changes it
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==;
}
location = /webhook/user-action {
    caresync_webhook helparound_user_action;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=1m;
}
--- request eval
[enrollment_with(), user_action_with()]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
["Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_three_min_old', body_of(enrollment_with()),
                            timestamp => time - 180),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_three_min_old2', body_of(user_action_with()),
                            timestamp => time - 180)]
--- error_code eval
[200, 401]
--- response_body eval
['{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"errorMessage":"signature timestamp out of tolerance"}']
--- jobs: 1



=== TEST 16: Standard Webhooks: a malformed timestamp or signature list: 401
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
}
--- request eval
[enrollment_with(), enrollment_with(), enrollment_with()]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
my $body = body_of(enrollment_with());
["Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_2f8Kq1', $body, timestamp => 'soon'),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_2f8Kq1', $body, signature => 'v1,not base64!'),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_2f8Kq1', $body, signature => 'v2,'
       . substr(standard_webhook_signature($secret, 'msg_2f8Kq1', time, $body), 3))]
--- error_code eval
[401, 401, 401]
--- response_body eval
[('{"errorMessage":"invalid signature"}') x 3]
--- jobs: 0



=== TEST 17: Standard Webhooks: two signatures, only the second valid: 200
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
}
--- request eval
enrollment_with()
--- more_headers eval
my $body = body_of(enrollment_with());
my $t = time;
"Content-Type: application/json\n"
. standard_webhook_headers('', 'msg_2f8Kq1', $body, timestamp => $t,
      signature => CORE::join(' ',
          standard_webhook_signature('whsec_Y2FyZXN5bmMtc3ctbm90LW91cnM=', 'msg_2f8Kq1', $t, $body),
          standard_webhook_signature('whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==', 'msg_2f8Kq1', $t, $body)))
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1



=== TEST 18: Standard Webhooks: other versions are skipped: "v1a,… v1,<valid>" is accepted
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
}
--- request eval
enrollment_with()
--- more_headers eval
my $body = body_of(enrollment_with());
my $t = time;
"Content-Type: application/json\n"
. standard_webhook_headers('', 'msg_2f8Kq1', $body, timestamp => $t,
      signature => 'v1a,c29tZXRoaW5nIGVsc2U= '
          . standard_webhook_signature('whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==', 'msg_2f8Kq1', $t, $body))
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1



=== TEST 19: Standard Webhooks: rotation: a second secret configured, a message signed with either is accepted
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LXR3bw== tolerance=5m;
}
--- request eval
[enrollment_with(),
 enrollment_with(sub { $_[0]{event}{patient}{id} = 'ha0000000second' })]
--- more_headers eval
my $body = body_of(enrollment_with());
my $second = body_of(enrollment_with(sub {
    $_[0]{event}{patient}{id} = 'ha0000000second' }));
["Content-Type: application/json\n"
 . standard_webhook_headers('whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LXR3bw==', 'msg_new_key', $body),
 "Content-Type: application/json\n"
 . standard_webhook_headers('whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==', 'msg_old_key', $second)]
--- error_code eval
[200, 200]
--- response_body eval
['{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha0000000second","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 2



=== TEST 20: Standard Webhooks: a replay (same webhook-id and body, freshly signed): 200, no second job
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
}
--- request eval
[enrollment_with(), enrollment_with()]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
my $body = body_of(enrollment_with());
["Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_replayed', $body, timestamp => time - 30),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_replayed', $body, timestamp => time)]
--- error_code eval
[200, 200]
--- response_body eval
[('{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}') x 2]
--- jobs: 1



=== TEST 21: Standard Webhooks: the event's dedupe still holds under a new id, and a replayed id queues nothing even with another body
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
}
--- request eval
[enrollment_with(), enrollment_with(),
 enrollment_with(sub { $_[0]{event}{patient}{id} = 'ha00000000other' })]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
my $body = body_of(enrollment_with());
my $other = body_of(enrollment_with(sub {
    $_[0]{event}{patient}{id} = 'ha00000000other' }));
["Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_first', $body),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_second', $body),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_first', $other)]
--- error_code eval
[200, 200, 200]
--- response_body eval
[('{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}') x 2,
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha00000000other","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 1



=== TEST 22: Standard Webhooks on the Hint endpoint: 200, one job, a replay is not queued again
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==;
}
--- request eval
[hint_with(), hint_with(), hint_with()]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
my $body = body_of(hint_with());
["Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_hint_1', $body, timestamp => time - 5),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_hint_1', $body),
 "Content-Type: application/json\n"
 . standard_webhook_headers('whsec_Y2FyZXN5bmMtc3ctbm90LW91cnM=', 'msg_hint_2', $body)]
--- error_code eval
[200, 200, 401]
--- response_body eval
['{"received":true,"id":"evt-2QfX8c91"}',
 '{"received":true,"id":"evt-2QfX8c91"}',
 '{"errorMessage":"invalid signature"}']
--- jobs: 1
--- job_fields
type = hint.patient



=== TEST 23: Standard Webhooks and the auth header together: both are needed
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==;
}
--- request eval
[enrollment_with(), enrollment_with(), enrollment_with()]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
my $body = body_of(enrollment_with());
["Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_both', $body),
 "Content-Type: application/json\nX-Partner-Secret: s3cret",
 "Content-Type: application/json\nX-Partner-Secret: s3cret\n"
 . standard_webhook_headers($secret, 'msg_both', $body)]
--- error_code eval
[401, 401, 200]
--- response_body eval
['{"errorMessage":"missing or invalid credentials"}',
 '{"errorMessage":"missing signature"}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 1



=== TEST 24: Standard Webhooks: the same webhook-id on two endpoints is two messages: two jobs
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==;
}
location = /webhook/hint {
    caresync_webhook hint;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==;
}
--- request eval
[enrollment_with(), hint_with()]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
["Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_same_id', body_of(enrollment_with())),
 "Content-Type: application/json\n"
 . standard_webhook_headers($secret, 'msg_same_id', body_of(hint_with()))]
--- error_code eval
[200, 200]
--- response_body eval
['{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"received":true,"id":"evt-2QfX8c91"}']
--- jobs: 2
--- job_fields
type = hint.patient



=== TEST 25: Standard Webhooks: every configured secret is tried, a fifth one too
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_azE= whsec_azI= whsec_azM= whsec_azQ= whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==;
}
--- request eval
enrollment_with()
--- more_headers eval
"Content-Type: application/json\n"
. standard_webhook_headers('whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==',
                           'msg_fifth_secret', body_of(enrollment_with()))
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1



=== TEST 26: auth header: two secrets while rotating: either is accepted, anything else is refused
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret old-s3cret new-s3cret;
}
--- request eval
[enrollment_with(),
 enrollment_with(sub { $_[0]{event}{patient}{id} = 'ha0000000second' }),
 enrollment_with()]
--- more_headers eval
["Content-Type: application/json\nX-Partner-Secret: old-s3cret",
 "Content-Type: application/json\nX-Partner-Secret: new-s3cret",
 "Content-Type: application/json\nX-Partner-Secret: other-s3cret"]
--- error_code eval
[200, 200, 401]
--- response_body eval
['{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha0000000second","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"errorMessage":"missing or invalid credentials"}']
--- jobs: 2



=== TEST 27: bearer tokens set for the server guard the actions API only, not the senders' webhooks
--- config
caresync_api_token t0ken;
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth off;
}
location /caresync/ {
    caresync_api;
}
--- request eval
[enrollment_with(),
 "POST /caresync/actions/hint-unlink\n{\"contact_id\":\"003000000000001AAA\"}"]
--- error_code eval
[200, 401]
--- response_body eval
['{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"errorMessage":"missing or invalid bearer token"}']
--- jobs: 1



=== TEST 28: auth header: an empty value, or one of blanks only, is refused where a secret is configured
--- request eval
[enrollment_with(), enrollment_with()]
--- more_headers eval
["Content-Type: application/json\nX-Partner-Secret:",
 "Content-Type: application/json\nX-Partner-Secret:    "]
--- error_code eval
[401, 401]
--- response_body eval
[('{"errorMessage":"missing or invalid credentials"}') x 2]
--- jobs: 0



=== TEST 29: Standard Webhooks: a dedupe window shorter than the tolerance: the message mark outlives it, a captured message replayed after the window queues nothing
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
    caresync_dedupe_ttl 10s;
}
--- redis_age_after: 0 590000
--- request eval
[enrollment_with(), enrollment_with()]
--- more_headers eval
[$main::CAPTURED, $main::CAPTURED]
--- error_code eval
[200, 200]
--- response_body eval
[('{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}') x 2]
--- jobs: 1



=== TEST 30: Standard Webhooks: the message mark lives twice the tolerance and a second, no longer: then the same message is queued again
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
    caresync_dedupe_ttl 10s;
}
--- redis_age_after: 0 602000
--- request eval
[enrollment_with(), enrollment_with()]
--- more_headers eval
[$main::CAPTURED, $main::CAPTURED]
--- error_code eval
[200, 200]
--- jobs: 2



=== TEST 31: Standard Webhooks: a dedupe window longer than twice the tolerance keeps the mark that long
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ== tolerance=5m;
    caresync_dedupe_ttl 1h;
}
--- redis_age_after: 0 3590000
--- request eval
[enrollment_with(), enrollment_with(sub { $_[0]{event}{patient}{id} = 'ha00000000other' })]
--- more_headers eval
[$main::CAPTURED,
 "Content-Type: application/json\n"
 . standard_webhook_headers('whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==', 'msg_captured',
       body_of(enrollment_with(sub { $_[0]{event}{patient}{id} = 'ha00000000other' })))]
--- error_code eval
[200, 200]
--- jobs: 1
