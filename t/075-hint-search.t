# The "Sync to Hint" search box (issue 7): GET …/hint/patients?q=<name>
# on the actions API asks Hint's patient list through an internal proxy
# location, in one round trip, and answers only id, names and birth date.
# The practice key is set by nginx on the proxied request and never
# reaches the browser; the API's bearer token guards the search.
#
# Hint is played by a location of the same server, reached over real HTTP
# through proxy_pass: it refuses a request without the practice key, and
# answers full patients (with phones, email, address) for the module to
# trim.
#
# The names searched for here are not the fixtures' (the suite fails on
# any fixture PHI in the log at debug level): a searched name is in the
# request line, which nginx itself logs at debug level — see "The search
# box and logs" in docs/directives.md.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;',
    config       => <<'_C_',
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
    caresync_hint_search /_hint_patients;
}

location = /_hint_patients {
    internal;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fake-hint/api/provider/patients;
    proxy_set_header Authorization "Bearer pra-key-not-for-browsers";
}

# stands in for Hint's GET /api/provider/patients (exact filters)
location = /fake-hint/api/provider/patients {
    if ($http_authorization != "Bearer pra-key-not-for-browsers") {
        return 401 '{"status":401,"message":"Unauthorized"}';
    }
    if ($arg_last_name = "Nobody") {
        return 200 '[]';
    }
    if ($arg_last_name = "Broken") {
        return 500 '{"status":500,"message":"boom"}';
    }
    return 200 '[{"id":"pat-search0001","first_name":"Firstsearch","middle_name":"Middlesearch","last_name":"$arg_last_name","dob":"1970-01-02","email":"first.search@example.org","phones":[{"number":"5035550000","type":"mobile"}],"address_line1":"1 Search Street","limit":"$arg_limit"}]';
}
_C_
    more_headers => "Authorization: Bearer t0ken",
);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a name: the matching patients, with id, names and birth date only
--- request
GET /caresync/hint/patients?q=Searchname
--- response_body chomp
[{"id":"pat-search0001","first_name":"Firstsearch","last_name":"Searchname","dob":"1970-01-02"}]
--- jobs: 0



=== TEST 2: the practice key and the other fields never reach the browser
--- request
GET /caresync/hint/patients?q=Searchname
--- response_body_unlike: pra-key|example\.org|5035550000|Search Street|Middlesearch
--- response_headers_like
Content-Type: application/json
--- jobs: 0



=== TEST 3: the name reaches Hint escaped (a space, an apostrophe, UTF-8); the stand-in echoes $arg_last_name as received
--- request
GET /caresync/hint/patients?q=O%27Brien%20de%20la%20Pe%C3%B1a
--- response_body chomp
[{"id":"pat-search0001","first_name":"Firstsearch","last_name":"O'Brien%20de%20la%20Pe%C3%B1a","dob":"1970-01-02"}]
--- jobs: 0



=== TEST 4: no match: an empty list
--- request
GET /caresync/hint/patients?q=Nobody
--- response_body chomp
[]
--- jobs: 0



=== TEST 5: Hint failing: 502, nothing of its answer
--- request
GET /caresync/hint/patients?q=Broken
--- error_code: 502
--- response_body chomp
{"errorMessage":"Hint search failed"}
--- jobs: 0



=== TEST 6: no bearer token: 401, Hint not asked
--- request
GET /caresync/hint/patients?q=Searchname
--- more_headers
X-Nothing: 1
--- error_code: 401
--- response_body chomp
{"errorMessage":"missing or invalid bearer token"}
--- jobs: 0



=== TEST 7: a q that is not a name, or none at all: 400
--- request eval
["GET /caresync/hint/patients?q=Searchname%26limit%3D1000",
 "GET /caresync/hint/patients",
 "GET /caresync/hint/patients?q=" . ("a" x 101)]
--- error_code eval
[400, 400, 400]
--- response_body eval
[('{"errorMessage":"q must be a name of 1 to 100 letters, spaces, apostrophes, dots or hyphens"}') x 3]
--- jobs: 0



=== TEST 8: a POST is not a search: 405 with Allow: GET
--- request
POST /caresync/hint/patients
{}
--- more_headers
Authorization: Bearer t0ken
Content-Type: application/json
--- error_code: 405
--- response_headers
Allow: GET
--- response_body chomp
{"errorMessage":"method not allowed"}
--- jobs: 0



=== TEST 9: a location without caresync_hint_search has no search: 404
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
}
--- request
GET /caresync/hint/patients?q=Searchname
--- error_code: 404
--- response_body chomp
{"errorMessage":"not found"}
--- jobs: 0
