# HelpAround "viewed tracker" and other user actions (spec/inbound.md §2):
# both placements of patient/eventName, the seed's invalid example, and
# what lands in Redis.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;',
    config       => 'location = /webhook/user-action { caresync_webhook helparound_user_action; caresync_auth off; }',
    more_headers => 'Content-Type: application/json',
);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: fields under event (as the seed's table says): 200, one user_action job
--- request eval
post_body('/webhook/user-action', fixture('helparound/user-action.json'))
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
v = 1
type = helparound.user_action
idempotency_key =~ ^[0-9a-f]{64}$
source.system = helparound
source.event = HelpAround.Patient.UserAction.ViewedTracker
source.program_id = 78ef982b-00ea-39c2-a875-f549c40e92ad
patient.source_id = ha61236024160af
patient.phones.0.number = +12027953213
patient.external_id = 4aadb997-e9fd-3909-a2f0-833b821544bd



=== TEST 2: patient and eventName at the top level (as the seed's example has them): accepted too
--- request eval
post_body('/webhook/user-action', fixture('helparound/user-action.top-level.json'))
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
type = helparound.user_action
source.event = HelpAround.Patient.UserAction.ViewedTracker
patient.source_id = ha61236024160af
patient.phones.0.number = +12027953213



=== TEST 3: the seed's example exactly as printed is not JSON
--- request eval
post_body('/webhook/user-action', fixture('helparound/user-action.seed-as-printed.txt'))
--- error_code: 400
--- response_body chomp
{"errorMessage":"body is not valid JSON","data":{}}
--- jobs: 0



=== TEST 4: both placements, different patients: the one under event wins
--- request eval
user_action_with(sub {
    $_[0]{patient} = { id => 'ha0000000000top', phoneNumber => '+12025550100' };
    $_[0]{eventName} = 'HelpAround.Patient.UserAction.ViewedTracker';
})
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
patient.source_id = ha61236024160af
patient.phones.0.number = +12027953213



=== TEST 5: data.key other than userAction
--- request eval
user_action_with(sub { $_[0]{event}{data}{key} = 'somethingElse' })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.data.key must be userAction","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 6: data.value missing
--- request eval
user_action_with(sub { delete $_[0]{event}{data}{value} })
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.data.value is required","data":{"patientId":"ha61236024160af"}}
--- jobs: 0



=== TEST 7: another user action: 200, queued with its own job type
--- request eval
user_action_with(sub {
    $_[0]{event}{data}{value} = 'viewedDocument';
    $_[0]{event}{eventName} = 'HelpAround.Patient.UserAction.ViewedDocument';
})
--- response_body chomp
{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}
--- jobs: 1
--- job_fields
type = helparound.user_action.other
source.event = HelpAround.Patient.UserAction.ViewedDocument
patient.source_id = ha61236024160af



=== TEST 8: no patient id in either place
--- request eval
user_action_with(sub {
    delete $_[0]{event}{patient}{id};
    $_[0]{patient} = { phoneNumber => '+12027953213' };
})
--- error_code: 400
--- response_body chomp
{"errorMessage":"event.patient.id is required","data":{}}
--- jobs: 0



=== TEST 9: the same delivery twice: the same 200 twice, one job
--- request eval
[user_action_with(), user_action_with()]
--- error_code eval
[200, 200]
--- response_body eval
['{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 1



=== TEST 10: the same event in both placements is one delivery: one job
--- request eval
[post_body('/webhook/user-action', fixture('helparound/user-action.json')),
 post_body('/webhook/user-action', fixture('helparound/user-action.top-level.json'))]
--- error_code eval
[200, 200]
--- response_body eval
['{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}',
 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}']
--- jobs: 1
