# Hint Health webhooks (spec/inbound.md §3): the answer and what lands in
# Redis for the patient events, the types this deployment does not sync,
# dedupe on the event id, the 400s, and the HMAC signature of the raw body
# (caresync_hmac_signature: keys in every documented form, rotation,
# header, prefix and encoding).

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

use File::Temp qw(tempdir);

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;',
    config       => 'location = /webhook/hint { caresync_webhook hint; caresync_auth off; }',
    more_headers => 'Content-Type: application/json',
);

# Keys read from files (key=file:/path): written once, here, so that both
# runners see them; the path reaches the config as $TEST_NGINX_HINT_KEY_*.
# Mode 0600: nginx refuses a secret file that group or others may read.
{
    my $dir = tempdir('caresync-hint-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my %files = (
        TEST_NGINX_HINT_KEY_TEXT => "file-secret\n",
        TEST_NGINX_HINT_KEY_HEX  => "hex:" . unpack('H*', "\x00\x01binary\xff") . "\n",
    );
    for my $var (sort keys %files) {
        my $path = "$dir/" . lc($var) . ".key";
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

=== TEST 1: patient.created (the fixture as is): 200, one hint.patient job with the normalized patient
--- request eval
post_body('/webhook/hint', fixture('hint/patient.created.json'))
--- response_body chomp
{"received":true,"id":"evt-2QfX8c91"}
--- jobs: 1
--- job_fields eval
<<'_F_' . 'idempotency_key = ' . Digest::SHA::sha256_hex("hint\nevt-2QfX8c91")
v = 1
id =~ ^[0-9A-HJKMNP-TV-Z]{26}$
type = hint.patient
received_at =~ ^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$
source.system = hint
source.event = patient.created
source.event_id = evt-2QfX8c91
source.practice_id = pra-Ab12Cd34
source.created_at = 2026-11-20T09:12:41Z
patient.source_id = pat-8Kd02LmQz1
patient.first_name = Maria
patient.middle_name = Elena
patient.last_name = Lopez
patient.prefix = Ms.
patient.suffix = ABSENT
patient.dob = 1958-04-12
patient.gender = female
patient.email = maria.lopez@example.org
patient.phones.0.type = mobile
patient.phones.0.number = +15035550143
patient.phones.1.type = home
patient.phones.1.number = +15035550199
patient.phones.2 = ABSENT
patient.address.line1 = 1200 NW Everett St
patient.address.line2 = Apt 4
patient.address.city = Portland
patient.address.state = OR
patient.address.zip = 97209
patient.address.country = US
patient.insurance.primary.member_id = W123456789
patient.insurance.primary.group_num = GRP-551
patient.practitioner.id = pra-9zKq1
patient.payer_name = Acme Health
patient.payer_id = 60054
patient.membership_status = active
patient.external_link_id = ABSENT
raw.id = evt-2QfX8c91
raw.object.id = pat-8Kd02LmQz1
_F_



=== TEST 2: patient.updated: 200 with its own id, one job
--- request eval
post_body('/webhook/hint', fixture('hint/patient.updated.json'))
--- response_body chomp
{"received":true,"id":"evt-2QfX8u91"}
--- jobs: 1
--- job_fields
type = hint.patient
source.event = patient.updated
source.event_id = evt-2QfX8u91
patient.source_id = pat-8Kd02LmQz1
patient.phones.0.number = +15035550143
patient.phones.1.number = +15035550199



=== TEST 3: patient.destroyed with only the patient's id: a hint.patient job too
--- request eval
hint_with(sub {
    $_[0]{id} = 'evt-destroyed01';
    $_[0]{type} = 'patient.destroyed';
    $_[0]{object} = { id => 'pat-8Kd02LmQz1' };
})
--- response_body chomp
{"received":true,"id":"evt-destroyed01"}
--- jobs: 1
--- job_fields
type = hint.patient
source.event = patient.destroyed
patient.source_id = pat-8Kd02LmQz1
patient.first_name = ABSENT



=== TEST 4: membership.updated, a type not synced: 200 with the same body shape, nothing queued
--- request eval
post_body('/webhook/hint', fixture('hint/membership.updated.json'))
--- response_body chomp
{"received":true,"id":"evt-2QfX8m77"}
--- jobs: 0



=== TEST 5: a type not synced needs no object.id
--- request eval
hint_with(sub { $_[0]{object} = { status => 'active' } }, 'hint/membership.updated.json')
--- response_body chomp
{"received":true,"id":"evt-2QfX8m77"}
--- jobs: 0



=== TEST 6: a patient.* action not synced: 200, nothing queued
--- request eval
hint_with(sub { $_[0]{type} = 'patient.merged' })
--- response_body chomp
{"received":true,"id":"evt-2QfX8c91"}
--- jobs: 0



=== TEST 7: the same event delivered twice: the same 200 twice, one job
--- request eval
[post_body('/webhook/hint', fixture('hint/patient.created.json')),
 post_body('/webhook/hint', fixture('hint/patient.created.json'))]
--- error_code eval
[200, 200]
--- response_body eval
['{"received":true,"id":"evt-2QfX8c91"}',
 '{"received":true,"id":"evt-2QfX8c91"}']
--- jobs: 1



=== TEST 8: the event id is the dedupe key: the same id with another body is not queued again
--- request eval
[hint_with(),
 hint_with(sub {
     $_[0]{object}{first_name} = phi_values()->{first_name};
     $_[0]{type} = 'patient.updated';
 })]
--- error_code eval
[200, 200]
--- response_body eval
['{"received":true,"id":"evt-2QfX8c91"}',
 '{"received":true,"id":"evt-2QfX8c91"}']
--- jobs: 1
--- job_fields
source.event = patient.created
patient.first_name = Maria



=== TEST 9: two events about the same patient: two jobs
--- request eval
[post_body('/webhook/hint', fixture('hint/patient.created.json')),
 post_body('/webhook/hint', fixture('hint/patient.updated.json'))]
--- error_code eval
[200, 200]
--- response_body eval
['{"received":true,"id":"evt-2QfX8c91"}',
 '{"received":true,"id":"evt-2QfX8u91"}']
--- jobs: 2



=== TEST 10: phones: any case of type, other types "other", dotted numbers, an unusable number dropped
--- request eval
hint_with(sub {
    $_[0]{object}{phones} = [
        { number => 'call me', type => 'mobile' },
        { number => '503.555.0143', type => 'OFFICE' },
        { number => '+44 20 7946 0958', type => 'Fax' },
    ];
})
--- response_body chomp
{"received":true,"id":"evt-2QfX8c91"}
--- jobs: 1
--- job_fields
patient.phones.0.type = office
patient.phones.0.number = +15035550143
patient.phones.1.type = other
patient.phones.1.number = +442079460958
patient.phones.2 = ABSENT



=== TEST 11: sex wins over gender
--- request eval
hint_with(sub { $_[0]{object}{sex} = 'M'; $_[0]{object}{gender} = 'female' })
--- response_body chomp
{"received":true,"id":"evt-2QfX8c91"}
--- jobs: 1
--- job_fields
patient.gender = male



=== TEST 12: missing id: 400, data is {} (no id to give back)
--- request eval
hint_with(sub { delete $_[0]{id} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"id is required","data":{}}
--- jobs: 0



=== TEST 13: empty id
--- request eval
hint_with(sub { $_[0]{id} = '' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"id is required","data":{}}
--- jobs: 0



=== TEST 14: id a number
--- request eval
hint_with(sub { $_[0]{id} = 42 })
--- error_code: 400
--- response_body chomp
{"errorMessage":"id must be a string","data":{}}
--- jobs: 0



=== TEST 15: missing type: 400 with the event id
--- request eval
hint_with(sub { delete $_[0]{type} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"type is required","data":{"id":"evt-2QfX8c91"}}
--- jobs: 0



=== TEST 16: type null
--- request eval
hint_with(sub { $_[0]{type} = undef })
--- error_code: 400
--- response_body chomp
{"errorMessage":"type is required","data":{"id":"evt-2QfX8c91"}}
--- jobs: 0



=== TEST 17: missing object
--- request eval
hint_with(sub { delete $_[0]{object} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"object is required","data":{"id":"evt-2QfX8c91"}}
--- jobs: 0



=== TEST 18: object not an object
--- request eval
hint_with(sub { $_[0]{object} = 'pat-8Kd02LmQz1' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"object must be an object","data":{"id":"evt-2QfX8c91"}}
--- jobs: 0



=== TEST 19: missing object.id for patient.created
--- request eval
hint_with(sub { delete $_[0]{object}{id} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"object.id is required","data":{"id":"evt-2QfX8c91"}}
--- jobs: 0



=== TEST 20: missing object.id for patient.updated
--- request eval
hint_with(sub { delete $_[0]{object}{id} }, 'hint/patient.updated.json')
--- error_code: 400
--- response_body chomp
{"errorMessage":"object.id is required","data":{"id":"evt-2QfX8u91"}}
--- jobs: 0



=== TEST 21: a patient field of the wrong type: 400 naming it, no value quoted back
--- request eval
hint_with(sub { $_[0]{object}{first_name} = 42 })
--- error_code: 400
--- response_body chomp
{"errorMessage":"object.first_name must be a string","data":{"id":"evt-2QfX8c91"}}
--- jobs: 0



=== TEST 22: a body that is not JSON
--- request
POST /webhook/hint
{"id":"evt-2QfX8c91",
--- error_code: 400
--- response_body chomp
{"errorMessage":"body is not valid JSON","data":{}}
--- jobs: 0



=== TEST 23: GET is not allowed
--- request
GET /webhook/hint
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body chomp
{"errorMessage":"method not allowed"}
--- jobs: 0



=== TEST 24: signature: the right one (default header, "sha256=" prefix, hex): 200, one job
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret;
}
--- request eval
hint_with()
--- more_headers eval
"Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('hint-secret', body_of(hint_with()))
--- response_body chomp
{"received":true,"id":"evt-2QfX8c91"}
--- jobs: 1
--- job_fields
type = hint.patient



=== TEST 25: signature: made with another key: 401, nothing queued
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret;
}
--- request eval
hint_with()
--- more_headers eval
"Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('not-the-secret', body_of(hint_with()))
--- error_code: 401
--- response_body chomp
{"errorMessage":"invalid signature"}
--- jobs: 0



=== TEST 26: signature: header missing: 401
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret;
}
--- request eval
hint_with()
--- error_code: 401
--- response_body chomp
{"errorMessage":"missing signature"}
--- jobs: 0



=== TEST 27: signature: the body altered after signing: 401
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret;
}
--- request eval
hint_with(sub { $_[0]{object}{email} = 'maria.lopez@example.org ' })
--- more_headers eval
"Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('hint-secret', body_of(hint_with()))
--- error_code: 401
--- response_body chomp
{"errorMessage":"invalid signature"}
--- jobs: 0



=== TEST 28: signature: not hex, or too short: 401
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret;
}
--- request eval
[hint_with(), hint_with(), hint_with()]
--- more_headers eval
["Content-Type: application/json\nX-Hint-Signature: sha256=zz" . substr(hmac_signature('hint-secret', body_of(hint_with()), prefix => ''), 2),
 "Content-Type: application/json\nX-Hint-Signature: " . substr(hmac_signature('hint-secret', body_of(hint_with())), 0, -2),
 "Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('hint-secret', body_of(hint_with()), prefix => '')]
--- error_code eval
[401, 401, 401]
--- response_body eval
['{"errorMessage":"invalid signature"}',
 '{"errorMessage":"invalid signature"}',
 '{"errorMessage":"invalid signature"}']
--- jobs: 0



=== TEST 29: signature: checked before the body is parsed (a wrong one over bad JSON is a 401, a right one a 400)
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret;
}
--- request eval
[post_body('/webhook/hint', '{"id":'), post_body('/webhook/hint', '{"id":')]
--- more_headers eval
["Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('hint-secret', '{"id":1}'),
 "Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('hint-secret', '{"id":')]
--- error_code eval
[401, 400]
--- response_body eval
['{"errorMessage":"invalid signature"}',
 '{"errorMessage":"body is not valid JSON","data":{}}']
--- jobs: 0



=== TEST 30: signature: upper-case hex and an upper-case prefix are accepted
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret;
}
--- request eval
[hint_with(), post_body('/webhook/hint', fixture('hint/patient.updated.json'))]
--- more_headers eval
["Content-Type: application/json\nX-Hint-Signature: sha256=" . uc(hmac_signature('hint-secret', body_of(hint_with()), prefix => '')),
 "Content-Type: application/json\nX-Hint-Signature: " . uc(hmac_signature('hint-secret', fixture('hint/patient.updated.json')))]
--- error_code eval
[200, 200]
--- response_body eval
['{"received":true,"id":"evt-2QfX8c91"}',
 '{"received":true,"id":"evt-2QfX8u91"}']
--- jobs: 2



=== TEST 31: signature: rotation: two keys configured, a body signed with either is accepted
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=old-secret key=new-secret;
}
--- request eval
[hint_with(),
 post_body('/webhook/hint', fixture('hint/patient.updated.json')),
 post_body('/webhook/hint', fixture('hint/membership.updated.json'))]
--- more_headers eval
["Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('old-secret', body_of(hint_with())),
 "Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('new-secret', fixture('hint/patient.updated.json')),
 "Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('third-secret', fixture('hint/membership.updated.json'))]
--- error_code eval
[200, 200, 401]
--- response_body eval
['{"received":true,"id":"evt-2QfX8c91"}',
 '{"received":true,"id":"evt-2QfX8u91"}',
 '{"errorMessage":"invalid signature"}']
--- jobs: 2



=== TEST 32: signature: base64 with an empty prefix
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret prefix= encoding=base64;
}
--- request eval
[hint_with(), hint_with(), hint_with()]
--- more_headers eval
["Content-Type: application/json\nX-Hint-Signature: sha256=" . hmac_signature('hint-secret', body_of(hint_with()), prefix => '', encoding => 'base64'),
 "Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('hint-secret', body_of(hint_with()), prefix => '', encoding => 'hex'),
 "Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('hint-secret', body_of(hint_with()), prefix => '', encoding => 'base64')]
--- error_code eval
[401, 401, 200]
--- response_body eval
['{"errorMessage":"invalid signature"}',
 '{"errorMessage":"invalid signature"}',
 '{"received":true,"id":"evt-2QfX8c91"}']
--- jobs: 1



=== TEST 33: signature: another header name
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret header=X-Signature;
}
--- request eval
[hint_with(), hint_with()]
--- more_headers eval
["Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('hint-secret', body_of(hint_with())),
 "Content-Type: application/json\nX-Signature: " . hmac_signature('hint-secret', body_of(hint_with()))]
--- error_code eval
[401, 200]
--- response_body eval
['{"errorMessage":"missing signature"}',
 '{"received":true,"id":"evt-2QfX8c91"}']
--- jobs: 1



=== TEST 34: signature: key=hex:… is the decoded bytes
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hex:00ff10aa4142;
}
--- request eval
[hint_with(), hint_with()]
--- more_headers eval
["Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('00ff10aa4142', body_of(hint_with())),
 "Content-Type: application/json\nX-Hint-Signature: " . hmac_signature("\x00\xff\x10\xaa\x41\x42", body_of(hint_with()))]
--- error_code eval
[401, 200]
--- response_body eval
['{"errorMessage":"invalid signature"}',
 '{"received":true,"id":"evt-2QfX8c91"}']
--- jobs: 1



=== TEST 35: signature: key=base64:… is the decoded bytes
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=base64:AP8QqkFCc2VjcmV0/w==;
}
--- request eval
hint_with()
--- more_headers eval
"Content-Type: application/json\nX-Hint-Signature: " . hmac_signature("\x00\xff\x10\xaa\x41\x42secret\xff", body_of(hint_with()))
--- response_body chomp
{"received":true,"id":"evt-2QfX8c91"}
--- jobs: 1



=== TEST 36: signature: key=whsec_… is the decoded bytes
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=whsec_aGludC13aHNlYy1rZXk=;
}
--- request eval
[hint_with(), hint_with()]
--- more_headers eval
["Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('whsec_aGludC13aHNlYy1rZXk=', body_of(hint_with())),
 "Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('hint-whsec-key', body_of(hint_with()))]
--- error_code eval
[401, 200]
--- response_body eval
['{"errorMessage":"invalid signature"}',
 '{"received":true,"id":"evt-2QfX8c91"}']
--- jobs: 1



=== TEST 37: signature: key=file:/path, plain text, the trailing newline is not part of it
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=file:$TEST_NGINX_HINT_KEY_TEXT;
}
--- request eval
[hint_with(), hint_with()]
--- more_headers eval
["Content-Type: application/json\nX-Hint-Signature: " . hmac_signature("file-secret\n", body_of(hint_with())),
 "Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('file-secret', body_of(hint_with()))]
--- error_code eval
[401, 200]
--- response_body eval
['{"errorMessage":"invalid signature"}',
 '{"received":true,"id":"evt-2QfX8c91"}']
--- jobs: 1



=== TEST 38: signature: key=file:/path holding "hex:…": decoded like an inline key
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=file:$TEST_NGINX_HINT_KEY_HEX key=second-secret;
}
--- request eval
[hint_with(), post_body('/webhook/hint', fixture('hint/patient.updated.json'))]
--- more_headers eval
["Content-Type: application/json\nX-Hint-Signature: " . hmac_signature("\x00\x01binary\xff", body_of(hint_with())),
 "Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('second-secret', fixture('hint/patient.updated.json'))]
--- error_code eval
[200, 200]
--- response_body eval
['{"received":true,"id":"evt-2QfX8c91"}',
 '{"received":true,"id":"evt-2QfX8u91"}']
--- jobs: 2



=== TEST 39: signature: over the raw bytes of a chunked body
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret;
}
--- request eval
"POST /webhook/hint\n" . chunked_body(body_of(hint_with()))
--- more_headers eval
"Content-Type: application/json\nTransfer-Encoding: chunked\nX-Hint-Signature: "
. hmac_signature('hint-secret', body_of(hint_with()))
--- response_body chomp
{"received":true,"id":"evt-2QfX8c91"}
--- jobs: 1



=== TEST 40: signature: over the raw bytes of a body nginx buffered to a file
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=hint-secret;
    client_body_buffer_size 1k;
    caresync_max_raw 1m;    # the copy shows the whole file was read
}
--- request eval
hint_with(sub { $_[0]{object}{notes} = 'n' x 200_000 })
--- more_headers eval
"Content-Type: application/json\nX-Hint-Signature: "
. hmac_signature('hint-secret', body_of(hint_with(sub { $_[0]{object}{notes} = 'n' x 200_000 })))
--- response_body chomp
{"received":true,"id":"evt-2QfX8c91"}
--- jobs: 1
--- job_fields
raw.object.notes =~ ^n{50000}n{50000}n{50000}n{50000}$



=== TEST 41: signature: every configured key is tried, a fifth one too
--- config
location = /webhook/hint {
    caresync_webhook hint;
    caresync_hmac_signature key=k1 key=k2 key=k3 key=k4 key=k5;
}
--- request eval
hint_with()
--- more_headers eval
"Content-Type: application/json\nX-Hint-Signature: " . hmac_signature('k5', body_of(hint_with()))
--- response_body chomp
{"received":true,"id":"evt-2QfX8c91"}
--- jobs: 1
