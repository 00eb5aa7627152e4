# PHI never reaches a log: every fixture (HelpAround enrollment and user
# actions, Hint patient and membership events, the CRM actions) is posted,
# valid and in invalid variants, at log level debug, and the error log is
# searched for the fixtures' names, birth dates, phones, e-mails,
# addresses, member and group numbers and card image ids, and for the
# made-up ones of phi_values() (the automatic --- no_error_log check of
# caresync_defaults, see t/lib/Caresync/Test.pm).
#
# The variants go through every path that writes to the log: 200s and
# 202s, the duplicate answer, 400s of every kind (not JSON, bad UTF-8, NUL,
# duplicate key, too deep, a missing or mistyped field), optional values
# that are dropped (their reasons are logged), events of a type not
# synced, 401s of every auth check (shared secret, bearer token, HMAC,
# Standard Webhooks), 404, 405, 413, 415, Redis down (503) and Redis too
# slow (503 after the timeout). Invalid values are PHI themselves where
# they can be, so that quoting one in a message would be caught.
#
# Each block also asserts that debug lines were written for its requests,
# so that an empty or quieter log cannot pass for a clean one.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=300ms;',
    config       => <<'_C_',
location = /webhook/user-enrollment { caresync_webhook helparound_enrollment; caresync_auth off; }
location = /webhook/user-action { caresync_webhook helparound_user_action; caresync_auth off; }
location = /webhook/hint { caresync_webhook hint; caresync_auth off; }
location = /webhook/hint-signed {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret;
}
location = /webhook/enrollment-guarded {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
    caresync_standard_webhooks whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==;
}
location = /webhook/enrollment-small {
    caresync_webhook helparound_enrollment;
    caresync_auth off;
    client_max_body_size 512;
}
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
}
_C_
    more_headers => "Content-Type: application/json\nAuthorization: Bearer t0ken",
);

# Every request of every block writes debug lines: the log was looked at.
add_block_preprocessor(sub {
    my ($block) = @_;
    $block->set_value(log_level => 'debug') unless defined $block->log_level;
    $block->set_value(error_log => '[debug]') unless defined $block->error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: HelpAround enrollment: the fixture, its duplicate, and variants with made-up PHI
--- request eval
my $v = phi_values();
[post_body('/webhook/user-enrollment', fixture('helparound/enrollment.json')),
 enrollment_with(),
 enrollment_with(sub {
     my $p = $_[0]{event}{patient};
     $_[0]{event}{sendDate} = '2021-08-24T08:45:24.000Z';
     @$p{qw(firstName lastName dob email phoneNumber)} =
         @$v{qw(first_name last_name dob email phone_10)};
     $p->{address}{street} = $v->{street};
     $p->{insurance}{primaryInsurance}{member_id} = $v->{member_id};
     $p->{insurance}{primaryInsurance}{group_num} = $v->{group_num};
     $p->{caregiver}{name} = "$v->{first_name} $v->{last_name}";
     $p->{caregiver}{phone} = $v->{phone};
 })]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[('^\{"success":true,') x 3]
--- jobs: 2



=== TEST 2: HelpAround enrollment: 400s whose offending value is PHI
--- request eval
my $v = phi_values();
[enrollment_with(sub { $_[0]{event}{patient}{phoneNumber} = $v->{email} }),
 enrollment_with(sub { $_[0]{event}{patient}{dob} = $v->{street} }),
 enrollment_with(sub { $_[0]{event}{patient}{firstName} = [ $v->{first_name} ] }),
 enrollment_with(sub { $_[0]{event}{patient}{address} = $v->{street} }),
 enrollment_with(sub { $_[0]{event}{sendDate} = $v->{dob} }),
 enrollment_with(sub { $_[0]{event}{eventName} = "$v->{first_name} $v->{last_name}" }),
 enrollment_with(sub { $_[0]{event}{patient}{lastName} = 'x' x 100000 . $v->{last_name} }),
 enrollment_with(sub { delete $_[0]{event}{patient}{lastName} })]
--- error_code eval
[(400) x 8]
--- response_body_like eval
[('^\{"errorMessage":"event\.[^"]*","data":\{[^{}]*\}\}$') x 8]
--- jobs: 0



=== TEST 3: HelpAround enrollment: bodies that are not acceptable JSON, around PHI
--- request eval
my $v = phi_values();
my $doc = json_encode(fixture_json('helparound/enrollment.json'));
[post_body('/webhook/user-enrollment', substr($doc, 0, index($doc, 'Doe') + 3)),
 post_body('/webhook/user-enrollment', qq({"name":"Lopez\xc3\x28 Maria","dob":"1958-04-12"})),
 post_body('/webhook/user-enrollment', qq({"name":"Maria\x00Lopez"})),
 post_body('/webhook/user-enrollment', q({"name":"Maria Lopez","name":"1958-04-12"})),
 post_body('/webhook/user-enrollment', nested_json(40, '"maria.lopez@example.org"')),
 post_body('/webhook/user-enrollment', q(["Maria Lopez","+15035550143"])),
 post_body('/webhook/user-enrollment', qq({"email":"$v->{email}" trailing})),
 post_body('/webhook/user-enrollment', qq({"n":1e999999,"email":"$v->{email}"}))]
--- error_code eval
[(400) x 8]
--- response_body_like eval
[('^\{"errorMessage":"body [^"]*","data":\{\}\}$') x 8]
--- jobs: 0



=== TEST 4: HelpAround enrollment: refused before the body is read (auth, signature, method, type, size)
--- request eval
my $body = body_of(enrollment_with());
[post_body('/webhook/enrollment-guarded', $body),
 post_body('/webhook/enrollment-guarded', $body),
 post_body('/webhook/enrollment-guarded', $body),
 post_body('/webhook/enrollment-guarded', $body),
 post_body('/webhook/user-enrollment', $body),
 post_body('/webhook/enrollment-small', $body),
 'GET /webhook/user-enrollment?name=x']
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
my $body = body_of(enrollment_with());
["Content-Type: application/json",
 "Content-Type: application/json\nX-Partner-Secret: s3cret",
 "Content-Type: application/json\nX-Partner-Secret: s3cret\n"
 . standard_webhook_headers($secret, 'msg_phi_1', $body, timestamp => time - 3600),
 "Content-Type: application/json\nX-Partner-Secret: s3cret\n"
 . standard_webhook_headers($secret, 'msg_phi_1', $body . ' '),
 "Content-Type: text/plain",
 "Content-Type: application/json",
 ""]
--- error_code eval
[401, 401, 401, 401, 415, 413, 405]
--- response_body_like eval
[('^\{"errorMessage":"[^"]*"\}$') x 7]
--- jobs: 0



=== TEST 5: HelpAround enrollment signed with Standard Webhooks, and its replay
--- request eval
[post_body('/webhook/enrollment-guarded', body_of(enrollment_with())),
 post_body('/webhook/enrollment-guarded', body_of(enrollment_with()))]
--- more_headers eval
my $secret = 'whsec_Y2FyZXN5bmMtc3ctc2VjcmV0LW9uZQ==';
my $body = body_of(enrollment_with());
[("Content-Type: application/json\nX-Partner-Secret: s3cret\n"
  . standard_webhook_headers($secret, 'msg_phi_2', $body)) x 2]
--- error_code eval
[200, 200]
--- response_body_like eval
[('^\{"success":true,') x 2]
--- jobs: 1



=== TEST 6: HelpAround user actions: both placements, another action, and 400s
--- request eval
my $v = phi_values();
[post_body('/webhook/user-action', fixture('helparound/user-action.json')),
 post_body('/webhook/user-action', fixture('helparound/user-action.top-level.json')),
 post_body('/webhook/user-action', fixture('helparound/user-action.seed-as-printed.txt')),
 user_action_with(sub {
     $_[0]{event}{data}{value} = 'viewedCard';
     $_[0]{event}{sendDate} = '2021-08-24T08:45:24.000Z';
     $_[0]{event}{patient}{phoneNumber} = $v->{phone};
 }),
 user_action_with(sub { $_[0]{event}{patient}{phoneNumber} = $v->{street} }),
 user_action_with(sub { $_[0]{event}{data}{key} = $v->{email} })]
--- error_code eval
[200, 200, 400, 200, 400, 400]
--- jobs: 2



=== TEST 7: Hint: the fixtures, a duplicate, a type not synced
--- request eval
[post_body('/webhook/hint', fixture('hint/patient.created.json')),
 post_body('/webhook/hint', fixture('hint/patient.updated.json')),
 post_body('/webhook/hint', fixture('hint/patient.updated.json')),
 post_body('/webhook/hint', fixture('hint/membership.updated.json'))]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[('^\{"received":true,"id":"evt-[^"]+"\}$') x 4]
--- jobs: 2



=== TEST 8: Hint: optional values that cannot be normalized are dropped and their reasons logged, never the values
--- request eval
my $v = phi_values();
hint_with(sub {
    my $o = $_[0]{object};
    $o->{phones} = [ { number => 'Maria Lopez', type => 'mobile' },
                     { number => "$v->{street} $v->{phone}", type => 'home' } ];
    $o->{address_state} = 'Portland';
    $o->{address_zip} = "97209 $v->{last_name}";
    $o->{address_country} = $v->{first_name};
    $_[0]{created_at} = $v->{dob} . ' at noon, Maria';
})
--- response_body chomp
{"received":true,"id":"evt-2QfX8c91"}
--- error_log
[debug]
optional values dropped
--- jobs: 1



=== TEST 9: Hint: 400s whose offending value is PHI, and bodies that are not acceptable JSON
--- request eval
my $v = phi_values();
[hint_with(sub { $_[0]{object}{first_name} = { name => $v->{first_name} } }),
 hint_with(sub { $_[0]{object}{dob} = $v->{street} }),
 hint_with(sub { $_[0]{object}{email} = [ $v->{email} ] }),
 hint_with(sub { $_[0]{object}{phones} = "Maria $v->{phone}" }),
 hint_with(sub { $_[0]{object}{id} = { first_name => 'Maria', last_name => 'Lopez' } }),
 hint_with(sub { $_[0]{type} = { dob => '1958-04-12' } }),
 hint_with(sub { $_[0]{id} = [ 'maria.lopez@example.org' ] }),
 post_body('/webhook/hint', substr(body_of(hint_with()), 0, -20))]
--- error_code eval
[(400) x 8]
--- response_body_like eval
[('^\{"errorMessage":"[^"]*","data":\{[^{}]*\}\}$') x 8]
--- jobs: 0



=== TEST 10: Hint: signed, wrongly signed, unsigned
--- request eval
[post_body('/webhook/hint-signed', body_of(hint_with())),
 post_body('/webhook/hint-signed', body_of(hint_with())),
 post_body('/webhook/hint-signed', body_of(hint_with())),
 post_body('/webhook/hint-signed', body_of(hint_with()))]
--- more_headers eval
["Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('hint-secret', body_of(hint_with())),
 "Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('wrong', body_of(hint_with())),
 "Content-Type: application/json\nX-Hint-Signature: sha256=not-hex",
 "Content-Type: application/json"]
--- error_code eval
[200, 401, 401, 401]
--- jobs: 1



=== TEST 11: actions: accepted ones (unknown members with PHI are ignored) and refused ones
--- request eval
my $v = phi_values();
[post_body('/caresync/actions/healthsherpa-sync',
           json_encode({ contact_id => '003000000000001AAA', agent => 'agent@example.com',
                         note => "$v->{first_name} $v->{last_name} $v->{dob}" })),
 post_body('/caresync/actions/hint-sync',
           '{"contact_id":"003000000000001AAA","patient_id":"pat-8Kd02LmQz1","name":"Maria Lopez"}'),
 post_body('/caresync/actions/hint-unlink', '{"contact_id":"003000000000001AAA"}'),
 post_body('/caresync/actions/crm-contact-changed', '{"contact_id":"003000000000001AAA","email":"maria.lopez@example.org"}'),
 post_body('/caresync/actions/hint-unlink', json_encode({ contact_id => $v->{phone} })),
 post_body('/caresync/actions/hint-sync', json_encode({ contact_id => '003000000000001AAA', patient_id => $v->{email} })),
 post_body('/caresync/actions/healthsherpa-sync', json_encode({ contact_id => '003000000000001AAA', agent => [ $v->{street} ] })),
 post_body('/caresync/actions/hint-unlink', '{"contact_id":"Maria Lopez 1958-04-12"'),
 'GET /caresync/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV']
--- error_code eval
[202, 202, 202, 202, 400, 400, 400, 400, 404]
--- jobs: 4



=== TEST 12: Redis down: 503s for every endpoint, no PHI in the connection errors
--- redis_down
--- request eval
[post_body('/webhook/user-enrollment', fixture('helparound/enrollment.json')),
 post_body('/webhook/user-action', fixture('helparound/user-action.json')),
 post_body('/webhook/hint', fixture('hint/patient.created.json')),
 post_body('/caresync/actions/hint-sync', '{"contact_id":"003000000000001AAA","patient_id":"pat-8Kd02LmQz1"}')]
--- error_code eval
[503, 503, 503, 503]
--- jobs: 0



=== TEST 13: Redis too slow: 503 after the timeout ("may not be queued" is logged), then the retry
--- redis_pause: 1000
--- request eval
[post_body('/webhook/hint', fixture('hint/patient.created.json')),
 post_body('/webhook/hint', fixture('hint/patient.created.json'))]
--- error_code eval
[503, 200]
--- jobs: 1



=== TEST 14: actions and Hint refused before the body is read (bearer token, method, type)
--- request eval
my $v = phi_values();
my $action = json_encode({ contact_id => '003000000000001AAA', agent => 'agent@example.com',
                           note => "$v->{first_name} $v->{last_name}" });
[post_body('/caresync/actions/healthsherpa-sync', $action),
 post_body('/caresync/actions/healthsherpa-sync', $action),
 post_body('/caresync/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV', $action),
 post_body('/webhook/hint', body_of(hint_with())),
 'GET /webhook/hint']
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer wrong",
 "Content-Type: text/plain\nAuthorization: Bearer t0ken",
 "Content-Type: application/json\nAuthorization: Bearer t0ken",
 "Content-Type: text/plain",
 ""]
--- error_code eval
[401, 415, 405, 415, 405]
--- response_body_like eval
[('^\{"errorMessage":"[^"]*"\}$') x 5]
--- jobs: 0
