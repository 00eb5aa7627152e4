# PHI never reaches a log: every fixture (HelpAround enrollment and user
# actions, Hint patient and membership events, the CRM actions) is posted,
# valid and in invalid variants, at log level debug, and the error log is
# searched for the fixtures' names, birth dates, phones, e-mails,
# addresses, member and group numbers and card image ids, and for the
# made-up ones of phi_values() (the automatic --- no_error_log check of
# caresync_defaults, see t/lib/Caresync/Test.pm). So is the access log, in
# nginx's default format (combined: the request line, the referrer, the
# user agent).
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
# The "Sync to Hint" search box sends a name to Hint in a URL, which nginx
# prints at debug level and in the context of its error lines: it is
# searched for a made-up name with Hint answering (a server block of this
# nginx with logs of its own: what Hint logs is not ours), Hint refusing
# connections (a port bound but not listening), Hint too slow (a port
# that never answers, past a proxy_read_timeout of 300ms), refused and
# invalid searches, and bodies in one-byte chunks (nginx's chunked parser
# prints the first byte of every chunk at debug level).
#
# Each block also asserts that debug lines were written for its requests,
# and that the access log holds its requests' lines, so that an empty or
# quieter log cannot pass for a clean one.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;
use IO::Socket::INET ();

# Hint, as the search box finds it: up (a port for the server block
# below), refusing connections (bound, never listening: connect() gets
# ECONNREFUSED) and too slow (listening, never accepting: the kernel
# completes the handshake, nothing answers). Held until the file ends.
my %hint;
for my $k (qw(up down slow)) {
    $hint{$k} = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
        $k eq 'slow' ? (Listen => 128) : (),
    ) or die "no port for the $k Hint: $!\n";
    $ENV{'TEST_NGINX_HINT_' . uc($k) . '_PORT'} = $hint{$k}->sockport;
}
close delete $hint{up};        # nginx listens there

caresync_defaults(
    http_config  => <<'_C_',
caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=300ms; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;

# stands in for Hint's GET /api/provider/patients, echoing the name; its
# logs are Hint's, not ours
server {
    listen 127.0.0.1:$TEST_NGINX_HINT_UP_PORT;
    error_log logs/hint-error.log;
    access_log logs/hint-access.log;

    location = /api/provider/patients {
        if ($http_authorization != "Bearer fake-hint-key") {
            return 401 '{"status":401,"message":"Unauthorized"}';
        }
        return 200 '[{"id":"pat-phi0000001","first_name":"Quillon","last_name":"$arg_last_name","dob":"1949-07-23","email":"q.vandermeer@example.net","phones":[{"number":"+14155550172","type":"mobile"}],"address_line1":"742 Alder Grove Rd"}]';
    }
}
_C_
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
    caresync_hint_search /_hint;
}
location /hint-down/ {
    caresync_api;
    caresync_api_token t0ken;
    caresync_hint_search /_hint_down;
}
location /hint-slow/ {
    caresync_api;
    caresync_api_token t0ken;
    caresync_hint_search /_hint_slow;
}
location = /_hint {
    internal;
    proxy_pass http://127.0.0.1:$TEST_NGINX_HINT_UP_PORT/api/provider/patients;
    proxy_set_header Authorization "Bearer fake-hint-key";
}
location = /_hint_down {
    internal;
    proxy_pass http://127.0.0.1:$TEST_NGINX_HINT_DOWN_PORT/api/provider/patients;
    proxy_set_header Authorization "Bearer fake-hint-key";
}
location = /_hint_slow {
    internal;
    proxy_pass http://127.0.0.1:$TEST_NGINX_HINT_SLOW_PORT/api/provider/patients;
    proxy_set_header Authorization "Bearer fake-hint-key";
    proxy_read_timeout 300ms;
}
_C_
    more_headers => "Content-Type: application/json\nAuthorization: Bearer t0ken",
);

# Every request of every block writes debug lines and an access log line
# (nginx's default format): the logs were looked at. Neither holds PHI.
my @phi = phi_patterns();
add_block_preprocessor(sub {
    my ($block) = @_;
    $block->set_value(log_level => 'debug') unless defined $block->log_level;
    $block->set_value(error_log => '[debug]') unless defined $block->error_log;
    $block->set_value(access_log => qr{^\S+ - \S+ \[[^]]+\] "[A-Z]+ /\S* HTTP/1\.1" \d{3} \d+ "[^"]*" "[^"]*"$})
        unless defined $block->access_log;
    $block->set_value(no_access_log => \@phi);
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



=== TEST 15: the search box, Hint answering: the name goes to Hint, and to no log of ours
--- request eval
my $v = phi_values();
[post_body('/caresync/hint/patients', json_encode({ q => $v->{last_name} })),
 post_body('/caresync/hint/patients', json_encode({ q => "$v->{first_name} $v->{last_name}" }))]
--- response_body eval
['[{"id":"pat-phi0000001","first_name":"Quillon","last_name":"Vandermeer","dob":"1949-07-23"}]',
 '[{"id":"pat-phi0000001","first_name":"Quillon","last_name":"Quillon%20Vandermeer","dob":"1949-07-23"}]']
--- error_log
http request line: "POST /caresync/hint/patients HTTP/1.1"
--- access_log eval
qr{"POST /caresync/hint/patients HTTP/1\.1" 200 }
--- jobs: 0



=== TEST 16: the search box, Hint refusing connections: the error line names the upstream without its query
--- request eval
my $v = phi_values();
post_body('/hint-down/hint/patients', json_encode({ q => "$v->{first_name} $v->{last_name}" }))
--- error_code: 502
--- response_body chomp
{"errorMessage":"Hint search failed"}
--- error_log eval
[qr{\[error\] .*connect\(\) failed \(111: Connection refused\) while connecting to upstream, client: 127\.0\.0\.1, server: localhost, request: "POST /hint-down/hint/patients HTTP/1\.1", subrequest: "/_hint_down", upstream: "http://127\.0\.0\.1:\d+/api/provider/patients", host: "[^"]*"$},
 'caresync: hint search answered 502',
 'http request line: "POST /hint-down/hint/patients HTTP/1.1"']
--- access_log eval
qr{"POST /hint-down/hint/patients HTTP/1\.1" 502 }
--- jobs: 0



=== TEST 17: the search box, Hint too slow: the time-out's error line names the upstream without its query
--- request eval
my $v = phi_values();
post_body('/hint-slow/hint/patients', json_encode({ q => "$v->{first_name} $v->{last_name}" }))
--- error_code: 502
--- response_body chomp
{"errorMessage":"Hint search failed"}
--- error_log eval
[qr{\[error\] .*upstream timed out \(110: Connection timed out\) while reading response header from upstream, client: 127\.0\.0\.1, server: localhost, request: "POST /hint-slow/hint/patients HTTP/1\.1", subrequest: "/_hint_slow", upstream: "http://127\.0\.0\.1:\d+/api/provider/patients", host: "[^"]*"$},
 'caresync: hint search answered 504',
 'http request line: "POST /hint-slow/hint/patients HTTP/1.1"']
--- access_log eval
qr{"POST /hint-slow/hint/patients HTTP/1\.1" 502 }
--- jobs: 0



=== TEST 18: the search box, refused and invalid searches around the name (token, value, body, type, size, method)
--- request eval
my $v = phi_values();
my $name = "$v->{first_name} $v->{last_name}";
[post_body('/caresync/hint/patients', json_encode({ q => $name })),
 post_body('/caresync/hint/patients', json_encode({ q => $name })),
 post_body('/caresync/hint/patients', json_encode({ q => "$name $v->{dob}" })),
 post_body('/caresync/hint/patients', json_encode({ name => $name })),
 post_body('/caresync/hint/patients', "q=$v->{last_name}"),
 post_body('/caresync/hint/patients', json_encode({ q => $name, pad => $v->{street} x 100 })),
 "GET /caresync/hint/patients\n" . json_encode({ q => $name })]
--- more_headers eval
["Content-Type: application/json",
 "Content-Type: application/json\nAuthorization: Bearer wrong",
 "Content-Type: application/json\nAuthorization: Bearer t0ken",
 "Content-Type: application/json\nAuthorization: Bearer t0ken",
 "Content-Type: application/x-www-form-urlencoded\nAuthorization: Bearer t0ken",
 "Content-Type: application/json\nAuthorization: Bearer t0ken",
 "Content-Type: application/json\nAuthorization: Bearer t0ken"]
--- error_code eval
[401, 401, 400, 400, 415, 413, 405]
--- access_log eval
qr{"(?:POST|GET) /caresync/hint/patients HTTP/1\.1" (?:400|401|405|413|415) }
--- jobs: 0



=== TEST 19: bodies in one-byte chunks (the search, refused and accepted; a webhook; an action): nginx's chunked parser prints nothing of them
--- request eval
my $v = phi_values();
my $name = "$v->{first_name} $v->{last_name}";
[post_body('/caresync/hint/patients', chunked_body(json_encode({ q => $name }), 1)),
 post_body('/caresync/hint/patients', chunked_body(json_encode({ q => $name }), 1)),
 post_body('/webhook/user-enrollment', chunked_body(fixture('helparound/enrollment.json'), 1)),
 post_body('/caresync/actions/healthsherpa-sync',
           chunked_body(json_encode({ contact_id => '003000000000001AAA', agent => 'agent@example.com',
                                      note => "$name $v->{dob}" }), 1))]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer t0ken\nTransfer-Encoding: chunked",
 "Content-Type: application/json\nTransfer-Encoding: chunked",
 "Content-Type: application/json\nTransfer-Encoding: chunked",
 "Content-Type: application/json\nAuthorization: Bearer t0ken\nTransfer-Encoding: chunked"]
--- error_code eval
[200, 401, 200, 202]
--- no_error_log
http chunked byte
--- access_log eval
qr{"POST /\S+ HTTP/1\.1" (?:200|202|401) }
--- jobs: 2
