# Issue 7 §4 / seed 002: "The Search Key can also be edited, and a live
# (as keys are pressed) search will be performed" -- the documented nginx
# proxy for `GET …/hint/patients?q=<name>` (docs/worker.md): the caller
# is checked with the actions API's bearer token (auth_request to the
# caresync_api location's status URL of a permanent probe record), Hint's key is added by nginx from an included
# file, and neither the caller's token goes to Hint nor Hint's key to the
# caller.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Caresync::Worker;
use Caresync::Hint;

my $env = start_env();
my $dir = $env->{dir};
my ($fport) = $env->{fake} =~ /:(\d+)$/;

# nginx refuses a secret file that group or others may read
open my $t, '>', "$dir/crm.token" or die;
print $t "crm-token-0123456789abcdef\n";
close $t;
chmod 0600, "$dir/crm.token" or die "$dir/crm.token: $!";
# the Hint key, readable by nginx only (0600 in production)
open my $k, '>', "$dir/hint-key.conf" or die;
print $k "set \$caresync_hint_auth \"Bearer fake-hint-key\";\n";
close $k;

my $port = start_nginx(<<"LOC");
location /caresync/ {
            caresync_api;
            caresync_api_token  file:$dir/crm.token;
        }

        location = /caresync/hint/patients {
            limit_except GET { deny all; }
            auth_request  /caresync/jobs/TOKENCHECK;
            include  $dir/hint-key.conf;
            proxy_set_header  Authorization  \$caresync_hint_auth;
            proxy_set_header  Cookie  "";
            proxy_hide_header  Set-Cookie;
            proxy_pass  http://127.0.0.1:$fport/api/provider/patients?limit=20&last_name=\$arg_q;
        }
LOC
plan skip_all => 'nginx or the module is not built (make module)'
    unless $port;

# the probe record that auth_request reads (created once, never expires)
redis()->cmd('HSET', '{caresync}:job:TOKENCHECK', 'status', 'probe');

seed_patients(fixture_patient(id => 'pat-s1'),
              fixture_patient(id => 'pat-s2', last_name => 'Other'));

my $http = HTTP::Tiny->new(timeout => 10);
my $url = "http://127.0.0.1:$port/caresync/hint/patients?q=lopez";
my $auth = { Authorization => 'Bearer crm-token-0123456789abcdef' };

my $res = $http->get($url, { headers => $auth });
is($res->{status}, 200, 'with the CRM token: 200')
    or diag `tail -5 $dir/nginx/logs/error.log`;
my $list = eval { JSON::PP->new->decode($res->{content}) } || [];
is_deeply([ map { $_->{id} } @$list ], ['pat-s1'],
          'the matching Hint patients (case-insensitive)');
ok($list->[0]{first_name} && $list->[0]{dob}, 'with name and birth date');
unlike($res->{content} . join(' ', values %{ $res->{headers} }),
       qr/fake-hint-key/, 'the Hint key is not in the answer');

my $req = hint_requests(method => 'GET', path => qr/patients$/);
is(scalar @$req, 1, 'one Hint round trip');
like($req->[0]{query}, qr/last_name=lopez/, 'q passed as the name filter');

$res = $http->get($url);
is($res->{status}, 401, 'no token: 401');
$res = $http->get($url, { headers => { Authorization => 'Bearer wrong' } });
is($res->{status}, 401, 'wrong token: 401');
is(scalar @{ hint_requests(method => 'GET', path => qr/patients$/) }, 1,
   'Hint not called without a valid token');

$res = $http->request('POST', $url, { headers => $auth, content => '{}' });
is($res->{status}, 403, 'only GET');

# q cannot add Hint parameters: "&offset=…" arrives encoded in one value
$res = $http->get("$url%26offset%3D5", { headers => $auth });
$req = hint_requests(method => 'GET', path => qr/patients$/);
unlike($req->[-1]{query}, qr/&offset=5/, 'no parameter injection');

done_testing();
