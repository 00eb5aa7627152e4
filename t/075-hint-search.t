# The "Sync to Hint" search box: POST …/hint/patients {"q":"<name>"} on
# the actions API asks Hint's patient list through an internal proxy
# location, in one round trip, and answers only id, names and birth date.
# The practice key is set by nginx on the proxied request and never
# reaches the browser; the API's bearer token guards the search.
#
# Hint is played by a location of the same server, reached over real HTTP
# through proxy_pass: it refuses a request without the practice key or
# with a body, and answers full patients (with phones, email, address) for
# the module to trim.
#
# The name is never in our URL (nginx logs request lines): a GET, the old
# way, is refused. The stand-in is a request of this nginx, so the names
# it receives are in this suite's logs: they are not PHI. That no name
# reaches our own logs is t/090-no-phi.t's.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

caresync_defaults(
    http_config  => 'caresync_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT; caresync_job_key t1 file:$TEST_NGINX_JOB_KEY;',
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
    if ($content_length != "") {
        return 400 '{"status":400,"message":"a GET with a body"}';
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
    more_headers => "Authorization: Bearer t0ken\nContent-Type: application/json",
);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a name: the matching patients, with id, names and birth date only
--- request
POST /caresync/hint/patients
{"q":"Searchname"}
--- response_body chomp
[{"id":"pat-search0001","first_name":"Firstsearch","last_name":"Searchname","dob":"1970-01-02"}]
--- jobs: 0



=== TEST 2: the practice key and the other fields never reach the browser
--- request
POST /caresync/hint/patients
{"q":"Searchname"}
--- response_body_unlike: pra-key|example\.org|5035550000|Search Street|Middlesearch
--- response_headers_like
Content-Type: application/json
--- jobs: 0



=== TEST 3: the name reaches Hint escaped (a space, an apostrophe, UTF-8); the stand-in echoes $arg_last_name as received
--- request
POST /caresync/hint/patients
{"q":"O'Brien de la Pe\u00f1a"}
--- response_body chomp
[{"id":"pat-search0001","first_name":"Firstsearch","last_name":"O'Brien%20de%20la%20Pe%C3%B1a","dob":"1970-01-02"}]
--- jobs: 0



=== TEST 4: no match: an empty list
--- request
POST /caresync/hint/patients
{"q":"Nobody"}
--- response_body chomp
[]
--- jobs: 0



=== TEST 5: Hint failing: 502, nothing of its answer
--- request
POST /caresync/hint/patients
{"q":"Broken"}
--- error_code: 502
--- response_body chomp
{"errorMessage":"Hint search failed"}
--- error_log
caresync: hint search answered 500
--- jobs: 0



=== TEST 6: no bearer token: 401, Hint not asked
--- request
POST /caresync/hint/patients
{"q":"Searchname"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body chomp
{"errorMessage":"missing or invalid bearer token"}
--- no_access_log
/fake-hint/
--- jobs: 0



=== TEST 7: a q that is not a name, or none at all: 400
--- request eval
[post_body('/caresync/hint/patients', '{"q":"Searchname&limit=1000"}'),
 post_body('/caresync/hint/patients', '{"q":""}'),
 post_body('/caresync/hint/patients', '{"q":"' . ("a" x 101) . '"}'),
 post_body('/caresync/hint/patients', '{"q":"Searchname\\n"}')]
--- error_code eval
[400, 400, 400, 400]
--- response_body eval
[('{"errorMessage":"q must be a name of 1 to 100 letters, spaces, apostrophes, dots or hyphens"}') x 4]
--- jobs: 0



=== TEST 8: a body that is not a JSON object with a string q: 400
--- request eval
[post_body('/caresync/hint/patients', 'Searchname'),
 post_body('/caresync/hint/patients', '{}'),
 post_body('/caresync/hint/patients', '{"q":["Searchname"]}'),
 post_body('/caresync/hint/patients', '["Searchname"]'),
 post_body('/caresync/hint/patients', '{"q":"Searchname","q":"Other"}'),
 "POST /caresync/hint/patients\n"]
--- error_code eval
[(400) x 6]
--- response_body eval
[('{"errorMessage":"body must be a JSON object with the name in q"}') x 6]
--- jobs: 0



=== TEST 9: the old way, a GET with the name in the URL, is refused: 405 with Allow: POST, Hint not asked
--- request eval
["GET /caresync/hint/patients?q=Searchname",
 "HEAD /caresync/hint/patients?q=Searchname",
 "PUT /caresync/hint/patients\n{\"q\":\"Searchname\"}"]
--- error_code eval
[405, 405, 405]
--- response_headers eval
[("Allow: POST\nContent-Type: application/json") x 3]
--- response_body eval
['{"errorMessage":"method not allowed"}', '', '{"errorMessage":"method not allowed"}']
--- no_access_log
/fake-hint/
--- jobs: 0



=== TEST 10: a name in the URL of a POST is refused too: 400, Hint not asked
--- request
POST /caresync/hint/patients?q=Searchname
{"q":"Searchname"}
--- error_code: 400
--- response_body chomp
{"errorMessage":"no query string: the name goes in the body"}
--- no_access_log
/fake-hint/
--- jobs: 0



=== TEST 11: a body that is not declared JSON: 415
--- request
POST /caresync/hint/patients
q=Searchname
--- more_headers
Authorization: Bearer t0ken
Content-Type: application/x-www-form-urlencoded
--- error_code: 415
--- response_body chomp
{"errorMessage":"Content-Type must be application/json"}
--- jobs: 0



=== TEST 12: a body larger than a search needs: 413, by its length or, chunked, once read
--- request eval
my $big = '{"q":"Searchname","pad":"' . ('x' x 1024) . '"}';
[post_body('/caresync/hint/patients', $big),
 post_body('/caresync/hint/patients', chunked_body($big))]
--- more_headers eval
["Authorization: Bearer t0ken\nContent-Type: application/json",
 "Authorization: Bearer t0ken\nContent-Type: application/json\nTransfer-Encoding: chunked"]
--- error_code eval
[413, 413]
--- response_body eval
[('{"errorMessage":"request body too large"}') x 2]
--- jobs: 0



=== TEST 13: a chunked body is a search like any other
--- request eval
post_body('/caresync/hint/patients', chunked_body('{"q":"Searchname"}', 1))
--- more_headers
Authorization: Bearer t0ken
Content-Type: application/json
Transfer-Encoding: chunked
--- response_body chomp
[{"id":"pat-search0001","first_name":"Firstsearch","last_name":"Searchname","dob":"1970-01-02"}]
--- jobs: 0



=== TEST 14: a location without caresync_hint_search has no search: 404
--- config
location /caresync/ {
    caresync_api;
    caresync_api_token t0ken;
}
--- request
POST /caresync/hint/patients
{"q":"Searchname"}
--- error_code: 404
--- response_body chomp
{"errorMessage":"not found"}
--- jobs: 0
