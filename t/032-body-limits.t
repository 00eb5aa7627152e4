# The work one body may cost (caresync_max_values, caresync_max_raw): a
# body with more JSON values than the limit is refused before it is
# parsed, and a raw copy over its limit is left out of the job, which says
# so. Nothing refused is ever queued.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

caresync_defaults(
    http_config  => <<'_C_',
caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;
client_max_body_size 2m;
client_body_buffer_size 2m;
_C_
    config       => <<'_C_',
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
}
location = /metrics { caresync_metrics; }
_C_
    more_headers => "Content-Type: application/json\nX-Partner-Secret: s3cret",
);

# The enrollment fixture with an unknown member "pad" holding $pad.
sub padded { my ($pad) = @_; enrollment_with(sub { $_[0]{pad} = $pad }) }

# Test::Base evaluates `--- … eval` sections in this package
{ no strict 'refs'; *{'Test::Base::Filter::padded'} = \&padded }

our $OK = '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the fixture's 64 values plus 9936 more is the default limit: queued
--- request eval
padded([(1) x 9935])
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
patient.source_id = ha61236024160af



=== TEST 2: one value more: 400 before the body is parsed, nothing queued
--- request eval
padded([(1) x 9936])
--- error_code: 400
--- response_body chomp
{"errorMessage":"body has more than 10000 values","data":{}}
--- error_log
caresync: request rejected: too_many_values
--- jobs: 0



=== TEST 3: 1 MiB of empty arrays: 400, nothing queued
--- request eval
padded([([]) x 349000])
--- error_code: 400
--- response_body chomp
{"errorMessage":"body has more than 10000 values","data":{}}
--- jobs: 0



=== TEST 4: member names are not values; strings, numbers, literals and containers are
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
    caresync_max_values 69;
}
--- request eval
[padded({ a => 'x', b => [1, JSON::PP::true] }),
 padded({ a => 'x', b => [1, JSON::PP::true, undef] })]
--- error_code eval
[200, 400]
--- response_body eval
[$main::OK,
 '{"errorMessage":"body has more than 69 values","data":{}}']
--- jobs: 1



=== TEST 5: caresync_max_values from the server block; a location may raise it
--- config
caresync_max_values 64;
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
}
location = /webhook/roomy {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
    caresync_max_values 20000;
}
--- request eval
[enrollment_with(),
 padded(1),
 post_body('/webhook/roomy', body_of(enrollment_with(sub {
     $_[0]{pad} = [(1) x 10000];
     $_[0]{event}{sendDate} = '2021-08-23T08:45:25.000Z';    # another event
 })))]
--- error_code eval
[200, 400, 200]
--- response_body eval
[$main::OK,
 '{"errorMessage":"body has more than 64 values","data":{}}',
 $main::OK]
--- jobs: 2



=== TEST 6: refusals are counted under their reason
--- request eval
[padded([(1) x 9936]), 'GET /metrics']
--- error_code eval
[400, 200]
--- response_headers eval
['Content-Type: application/json', 'Content-Type: text/plain; version=0.0.4']
--- response_body_like eval
['^\{"errorMessage":"body has more than 10000 values","data":\{\}\}$',
 '(?m)^caresync_rejects_total\{endpoint="helparound_enrollment",reason="too_many_values"\} [1-9]\d*$']
--- jobs: 0



=== TEST 7: a raw copy over the default 64k is left out, and the job says so
--- request eval
padded('p' x 66000)
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- error_log eval
qr/caresync: job \w+: raw copy of \d+ bytes left out, over caresync_max_raw/
--- jobs: 1
--- job_fields
raw = ABSENT
raw_omitted = too_large
patient.source_id = ha61236024160af
patient.last_name = Doe



=== TEST 8: a raw copy within 64k is kept whole
--- request eval
padded('p' x 60000)
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- no_error_log
left out
--- jobs: 1
--- job_fields
raw = PRESENT
raw_omitted = ABSENT
raw.event.patient.id = ha61236024160af
raw.pad =~ ^p{60000}$



=== TEST 9: caresync_max_raw: the fixture's copy (1486 bytes) is left out at 1485
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
    caresync_max_raw 1485;
}
--- request eval
post_body('/webhook/user-enrollment', fixture('helparound/enrollment.json'))
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
raw = ABSENT
raw_omitted = too_large



=== TEST 10: caresync_max_raw: at 1486, the copy is kept
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
    caresync_max_raw 1486;
}
--- request eval
post_body('/webhook/user-enrollment', fixture('helparound/enrollment.json'))
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
raw = PRESENT
raw_omitted = ABSENT



=== TEST 11: caresync_max_raw 1m keeps a large copy
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
    caresync_max_raw 1m;
}
--- request eval
padded('p' x 800000)
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
raw = PRESENT
raw_omitted = ABSENT
raw.pad =~ ^(?:p{50000}){16}$



=== TEST 12: caresync_keep_raw off: no copy and no marker, whatever the size
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth_header X-Partner-Secret s3cret;
    caresync_keep_raw off;
}
--- request eval
padded('p' x 66000)
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- no_error_log
left out
--- jobs: 1
--- job_fields
raw = ABSENT
raw_omitted = ABSENT
