# HelpAround "complete enrollment" webhook (spec/inbound.md §1): the answer
# and what lands in Redis, for the seed's payload and for each way of
# getting it wrong.

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

=== TEST 1: the seed's payload: 200 with the documented body, one job
--- request eval
post_body('/webhook/user-enrollment', fixture('helparound/enrollment.json'))
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
v = 1
id = PRESENT
type = helparound.enrollment
received_at =~ ^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$
idempotency_key =~ ^[0-9a-f]{64}$
source.system = helparound
source.event = HelpAround.Patient.CompleteEnrollment
source.program_id = 78ef982b-00ea-39c2-a875-f549c40e92ad
patient.source_id = ha61236024160af
patient.first_name = John
patient.last_name = Doe
patient.dob = 2021-03-01
patient.gender = male
patient.email = test@gmail.com
patient.phones.0.number = +12027953213
patient.address.line1 = test
patient.address.line2 = 12
patient.address.state = AL
patient.address.zip = 12345
patient.address.country = US
patient.external_ids.0.source = Source
patient.external_ids.0.id = 4aadb997-e9fd-3909-a2f0-833b821544bd
patient.external_id = 4aadb997-e9fd-3909-a2f0-833b821544bd
patient.consents.0.name = communication
patient.consents.0.value = true
patient.consents.0.at =~ ^2021-03-01T00:00:00
raw = PRESENT
raw.event.patient.id = ha61236024160af



=== TEST 2: caresync_keep_raw off: same answer, the job has no raw copy
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth off;
    caresync_keep_raw off;
}
--- request eval
enrollment_with()
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
type = helparound.enrollment
patient.source_id = ha61236024160af
raw = ABSENT



=== TEST 3: caresync_partner_source: the matching entry (trimmed, any case) wins over the first
--- config
location = /webhook/user-enrollment {
    caresync_webhook helparound_enrollment;
    caresync_auth off;
    caresync_partner_source partner;
}
--- request eval
enrollment_with(sub {
    push @{ $_[0]{event}{patient}{externalIds} },
        { source => ' PARTNER ', sourceId => 'c0ffee00-0000-4000-8000-000000000002' };
})
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"c0ffee00-0000-4000-8000-000000000002"}}
--- jobs: 1
--- job_fields
patient.external_id = c0ffee00-0000-4000-8000-000000000002



=== TEST 4: default partner source name is "Partner"
--- request eval
enrollment_with(sub {
    push @{ $_[0]{event}{patient}{externalIds} },
        { source => 'partner', sourceId => 'c0ffee00-0000-4000-8000-000000000003' };
})
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"c0ffee00-0000-4000-8000-000000000003"}}
--- jobs: 1
--- job_fields
patient.external_id = c0ffee00-0000-4000-8000-000000000003



=== TEST 5: no partner entry: the first entry's sourceId
--- request eval
enrollment_with(sub {
    push @{ $_[0]{event}{patient}{externalIds} },
        { source => 'Other', sourceId => 'c0ffee00-0000-4000-8000-000000000004' };
})
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
patient.external_id = 4aadb997-e9fd-3909-a2f0-833b821544bd



=== TEST 6: no externalIds: externalId is the UUIDv5 of "supportProgramId:patient.id"
--- request eval
enrollment_with(sub { delete $_[0]{event}{patient}{externalIds} })
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"51235097-5b70-5540-8525-818530d337c1"}}
--- jobs: 1
--- job_fields
patient.external_id = 51235097-5b70-5540-8525-818530d337c1



=== TEST 7: several problems: the first one in the table's order is reported
--- request eval
enrollment_with(sub {
    delete $_[0]{event}{patient}{lastName};
    $_[0]{event}{eventName} = 'Something.Else';
    delete $_[0]{event}{sendDate};
})
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.sendDate is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 8: sendDate that is not a calendar date
--- request eval
enrollment_with(sub { $_[0]{event}{sendDate} = '2021-02-30T00:00:00Z' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.sendDate must be an ISO-8601 UTC date-time","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 9: sendDate without a UTC designator
--- request eval
enrollment_with(sub { $_[0]{event}{sendDate} = '2021-08-23 08:45:24' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.sendDate must be an ISO-8601 UTC date-time","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 10: phoneNumber that is not a phone number
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{phoneNumber} = 'call me' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.phoneNumber must be a phone number with country code","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 11: another event name
--- request eval
enrollment_with(sub { $_[0]{event}{eventName} = 'HelpAround.Patient.UserAction.ViewedTracker' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.eventName must be HelpAround.Patient.CompleteEnrollment","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 12: optional dob of the wrong kind
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{dob} = 'yesterday' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.dob must be a date","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 13: optional address that is not an object
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{address} = '12 test street' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.address must be an object","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 14: tolerance: address.apartment instead of address.apt
--- request eval
enrollment_with(sub {
    my $addr = $_[0]{event}{patient}{address};
    $addr->{apartment} = delete $addr->{apt};
})
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
patient.address.line2 = 12



=== TEST 15: tolerance: consent instead of consents
--- request eval
enrollment_with(sub {
    my $p = $_[0]{event}{patient};
    $p->{consent} = delete $p->{consents};
})
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
patient.consents.0.name = communication
patient.consents.1.name = sharePHI



=== TEST 16: tolerance: dob as an ISO-8601 date
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{dob} = '2021-03-01' })
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
patient.dob = 2021-03-01



=== TEST 17: tolerance: dob as an ISO-8601 date-time
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{dob} = '2021-03-01T00:00:00Z' })
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
patient.dob = 2021-03-01



=== TEST 18: null counts as absent for an optional field
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{dob} = undef })
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
patient.dob = ABSENT



=== TEST 19: unknown fields are ignored, and kept in the raw copy
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{favouriteColour} = 'blue' })
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
raw.event.patient.favouriteColour = blue



=== TEST 20: the same delivery twice: the same 200 twice, one job
--- request eval
[enrollment_with(), enrollment_with()]
--- error_code eval
[200, 200]
--- response_body eval
['{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 1



=== TEST 21: another sendDate is another event: two jobs
--- request eval
[enrollment_with(),
 enrollment_with(sub { $_[0]{event}{sendDate} = '2021-08-24T08:45:24.000Z' })]
--- error_code eval
[200, 200]
--- response_body eval
['{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 2



=== TEST 22: a body that is not JSON
--- request
POST /webhook/user-enrollment
{"event":
--- error_code: 400
--- response_body chomp
{"errorMessage":"body is not valid JSON","data":{}}
--- jobs: 0



=== TEST 23: required event.supportProgramId missing
--- request eval
enrollment_with(sub { delete $_[0]{event}{supportProgramId} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.supportProgramId is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 24: required event.supportProgramId null
--- request eval
enrollment_with(sub { $_[0]{event}{supportProgramId} = undef })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.supportProgramId is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 25: required event.supportProgramId empty
--- request eval
enrollment_with(sub { $_[0]{event}{supportProgramId} = '' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.supportProgramId is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 26: required event.supportProgramId a number
--- request eval
enrollment_with(sub { $_[0]{event}{supportProgramId} = 42 })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.supportProgramId must be a string","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 27: required event.sendDate missing
--- request eval
enrollment_with(sub { delete $_[0]{event}{sendDate} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.sendDate is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 28: required event.sendDate null
--- request eval
enrollment_with(sub { $_[0]{event}{sendDate} = undef })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.sendDate is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 29: required event.sendDate empty
--- request eval
enrollment_with(sub { $_[0]{event}{sendDate} = '' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.sendDate is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 30: required event.sendDate a number
--- request eval
enrollment_with(sub { $_[0]{event}{sendDate} = 42 })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.sendDate must be a string","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 31: required event.patient.id missing
--- request eval
enrollment_with(sub { delete $_[0]{event}{patient}{id} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.id is required","data":{}}
--- jobs: 0



=== TEST 32: required event.patient.id null
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{id} = undef })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.id is required","data":{}}
--- jobs: 0



=== TEST 33: required event.patient.id empty
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{id} = '' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.id is required","data":{}}
--- jobs: 0



=== TEST 34: required event.patient.id a number
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{id} = 42 })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.id must be a string","data":{}}
--- jobs: 0



=== TEST 35: required event.patient.phoneNumber missing
--- request eval
enrollment_with(sub { delete $_[0]{event}{patient}{phoneNumber} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.phoneNumber is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 36: required event.patient.phoneNumber null
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{phoneNumber} = undef })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.phoneNumber is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 37: required event.patient.phoneNumber empty
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{phoneNumber} = '' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.phoneNumber is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 38: required event.patient.phoneNumber a number
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{phoneNumber} = 42 })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.phoneNumber must be a string","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 39: required event.patient.firstName missing
--- request eval
enrollment_with(sub { delete $_[0]{event}{patient}{firstName} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.firstName is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 40: required event.patient.firstName null
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{firstName} = undef })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.firstName is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 41: required event.patient.firstName empty
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{firstName} = '' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.firstName is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 42: required event.patient.firstName a number
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{firstName} = 42 })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.firstName must be a string","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 43: required event.patient.lastName missing
--- request eval
enrollment_with(sub { delete $_[0]{event}{patient}{lastName} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.lastName is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 44: required event.patient.lastName null
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{lastName} = undef })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.lastName is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 45: required event.patient.lastName empty
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{lastName} = '' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.lastName is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 46: required event.patient.lastName a number
--- request eval
enrollment_with(sub { $_[0]{event}{patient}{lastName} = 42 })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.lastName must be a string","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 47: required event.eventName missing
--- request eval
enrollment_with(sub { delete $_[0]{event}{eventName} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.eventName is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 48: required event.eventName null
--- request eval
enrollment_with(sub { $_[0]{event}{eventName} = undef })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.eventName is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 49: required event.eventName empty
--- request eval
enrollment_with(sub { $_[0]{event}{eventName} = '' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.eventName is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 50: required event.eventName a number
--- request eval
enrollment_with(sub { $_[0]{event}{eventName} = 42 })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.eventName must be a string","data":{"patientId":"ha61236024160af"}}
--- jobs: 0
