# The test runner itself, against plain nginx (no caresync module): that
# expectations that hold pass, that ones that do not hold fail, and that the
# Caresync::Test helpers (Redis client, custom sections) work.

# Plain nginx: do not load the caresync module here, so that this file says
# something about the runner even when the module is missing or broken.
BEGIN { delete $ENV{TEST_NGINX_LOAD_MODULES} }

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;

use File::Temp qw(tempdir);
use IO::Socket::INET ();

# --- The helpers ------------------------------------------------------------

is(redis_cmd('SET', 'selftest', 'v'), 'OK', 'redis: status reply');
is(redis_cmd('GET', 'selftest'), 'v', 'redis: bulk reply');
is(redis_cmd('GET', 'nothing'), undef, 'redis: nil reply');
is(redis_cmd('INCR', 'counter'), 1, 'redis: integer reply');
is_deeply(redis_cmd('MGET', 'selftest', 'nothing'), ['v', undef],
          'redis: array reply');
like(redis_cmd('INCR', 'selftest')->{error}, qr/^ERR/, 'redis: error reply');
like(fixture('helparound/enrollment.json'), qr/"supportProgramId"/,
     'fixture() reads ../shared/fixtures');
is(nested_json(2), '{"a":{"a":1}}', 'nested_json(2)');
like(enrollment_with(sub { delete $_[0]{event}{patient}{firstName} }),
     qr{\APOST /webhook/user-enrollment\n\{"event":\{},
     'enrollment_with() builds a request');

# --- Wrong expectations must fail -------------------------------------------
# A throwaway .t whose every block has exactly one wrong expectation, run in
# a child perl with its own port and server root.

{
    my $dir = tempdir('caresync-selftest-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $file = "$dir/mismatch.t";
    open my $out, '>', $file or die "$file: $!";
    print $out <<'_T_';
BEGIN { delete $ENV{TEST_NGINX_LOAD_MODULES} }
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use Caresync::Test;
no_shuffle();
run_tests();
__DATA__

=== TEST 1: body
--- config
location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body chomp
not ok

=== TEST 2: code
--- config
location = /t { return 200 "ok"; }
--- request
GET /t
--- error_code: 201

=== TEST 3: header
--- config
location = /t { add_header X-Foo bar; return 200 "ok"; }
--- request
GET /t
--- response_headers
X-Foo: baz

=== TEST 4: error log
--- config
location = /t { return 200 "ok"; }
--- request
GET /t
--- error_log
no such line

=== TEST 5: jobs
--- config
location = /t { return 200 "ok"; }
--- request
GET /t
--- jobs: 1

=== TEST 6: job fields
--- config
location = /t { return 200 "ok"; }
--- init
Caresync::Test::redis_cmd('XADD', '{caresync}:jobs', '*', 'job', '{"a":"right"}');
--- request
GET /t
--- job_fields
a = wrong

=== TEST 7: access log
--- config
location = /t { return 200 "ok"; }
--- request
GET /t
--- access_log
GET /nowhere

=== TEST 8: no access log
--- config
location = /t { return 200 "ok"; }
--- request
GET /t?secret=1
--- no_access_log
secret=1
_T_
    close $out;

    (my $lib = $INC{'Test/Nginx/Socket.pm'}) =~ s{/?Test/Nginx/Socket\.pm\z}{};
    local $ENV{PERL5LIB} = join ':', grep { length }
        ($lib, $ENV{PERL5LIB} // '');
    local $ENV{TEST_NGINX_SERVROOT} = "$dir/servroot";
    my $probe = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => 0) or die "no port: $!";
    local $ENV{TEST_NGINX_SERVER_PORT} = $probe->sockport;
    close $probe;
    local $ENV{TEST_NGINX_CLIENT_PORT};
    delete $ENV{TEST_NGINX_CLIENT_PORT};

    my $tap = `$^X $file 2>&1`;
    my $status = $? >> 8;
    my @not_ok = $tap =~ /^not ok \d+ - (.*)$/mg;

    isnt($status, 0, 'a .t with wrong expectations exits non-zero');
    is(scalar @not_ok, 8, 'exactly one failure per wrong expectation')
        or diag($tap);
    my @want = (
        qr/TEST 1: body - response_body - response is expected/,
        qr/TEST 2: code - status code ok/,
        qr/TEST 3: header - header X-Foo ok/,
        qr/TEST 4: error log - pattern "no such line" should match a line/,
        qr/TEST 5: jobs - \{caresync\}:jobs has 1 entries/,
        qr/TEST 6: job fields - job a = wrong/,
        qr/TEST 7: access log - pattern "GET \/nowhere" should match a line in access\.log/,
        qr/TEST 8: no access log - pattern "secret=1" should not match any line in access\.log/,
    );
    for my $re (@want) {
        ok((grep { $_ =~ $re } @not_ok), "mismatch detected: $re");
    }
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a plain return matches
--- config
location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body chomp
ok
--- response_headers
Content-Type: text/plain
!X-Caresync
--- no_error_log
[error]
--- jobs: 0



=== TEST 2: a request array gets one answer per request
--- config
location = /a { return 200 "a"; }
location = /b { return 404; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_body eval
["a", qr/404 Not Found/]
--- jobs: 0



=== TEST 3: the request as built: Host, Connection, more_headers, trimmed body with Content-Length
--- config
location = /echo {
    return 200 "$request_method|$http_host|$http_connection|$http_x_foo|$content_type|$content_length";
}
--- request
POST /echo
  hello  
--- more_headers
X-Foo: bar
Content-Type: application/json
--- response_body chomp
POST|localhost|close|bar|application/json|5
--- jobs: 0



=== TEST 4: response_headers_like and error_log patterns
--- config
location = /missing { root /nonexistent-dir; }
--- request
GET /missing
--- error_code: 404
--- response_headers_like
Server: nginx/[\d.]+
--- error_log eval
[qr/open\(\) "[^"]+" failed/, "No such file or directory"]
--- no_error_log
[alert]
[emerg]
--- jobs: 0



=== TEST 5: --- jobs and --- job_fields read the last job of {caresync}:jobs
--- config
location = /t { return 200 "ok"; }
--- init
Caresync::Test::redis_cmd('XADD', '{caresync}:jobs', '*', 'job', '{"type":"first"}');
Caresync::Test::redis_cmd('XADD', '{caresync}:jobs', '*', 'job',
    '{"type":"second","a":{"b":[1,{"c":"d"}]},"n":null,"t":true,"o":{"x":1}}');
--- request
GET /t
--- response_body chomp
ok
--- jobs: 2
--- job_fields
type = second
a.b.0 = 1
a.b.1.c = d
a.b.2 = ABSENT
n = null
t = true
o = {"x":1}
a = PRESENT
raw = ABSENT
type =~ ^sec



=== TEST 6: --- jobs_prefix moves the checks to another prefix
--- config
location = /t { return 200 "ok"; }
--- init
Caresync::Test::redis_cmd('XADD', '{acme}:jobs', '*', 'job', '{"type":"x"}');
--- request
GET /t
--- response_body chomp
ok
--- jobs_prefix: {acme}
--- jobs: 1
--- job_fields
type = x



=== TEST 7: --- redis_down stops Redis for the block; jobs are counted after a restart
--- config
location = /t { return 200 "ok"; }
--- redis_down
--- init
die "Redis should be down\n" if eval { Caresync::Test::redis_cmd('PING') };
--- request
GET /t
--- response_body chomp
ok
--- jobs: 0



=== TEST 8: --- access_log and --- no_access_log look at nginx's default access log
--- config
location = /t { return 200 "ok"; }
--- request
GET /t?x=1
--- response_body chomp
ok
--- access_log eval
qr{"GET /t\?x=1 HTTP/1\.1" 200 2 "-" }
--- no_access_log
x=2
--- jobs: 0
