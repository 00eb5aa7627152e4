# Issue 7 §4 / seed 002: "The Search Key can also be edited, and a live
# (as keys are pressed) search will be performed" -- the module's search
# box (caresync_hint_search, docs/directives.md) against the fake Hint of
# t/fakes (spec/external-apis.md: exact, case-insensitive filters, limit
# 1 to 100): the browser posts {"q":"<name>"} with the actions API's
# token, nginx adds Hint's key from an included file, the answer is the
# matching patients trimmed to id, names and birth date. Neither the
# caller's token goes to Hint nor Hint's key to the caller, and the name
# reaches neither of nginx's logs (error log at debug, access log in the
# default format), with Hint up and with Hint unreachable.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
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
print $k "proxy_set_header Authorization \"Bearer fake-hint-key\";\n";
close $k;

# Hint unreachable: a port bound, never listening (connection refused)
my $closed = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Proto => 'tcp') or die "no port: $!";
my $cport = $closed->sockport;

my $port = start_nginx(<<"LOC", log_level => 'debug', access_log => 1);
location /caresync/ {
            caresync_api;
            caresync_api_token  file:$dir/crm.token;
            caresync_hint_search  /_hint_patients;
        }

        location /hint-down/ {
            caresync_api;
            caresync_api_token  file:$dir/crm.token;
            caresync_hint_search  /_hint_down;
        }

        location = /_hint_patients {
            internal;
            proxy_pass  http://127.0.0.1:$fport/api/provider/patients;
            include  $dir/hint-key.conf;
            subrequest_output_buffer_size  64k;
        }

        location = /_hint_down {
            internal;
            proxy_pass  http://127.0.0.1:$cport/api/provider/patients;
            include  $dir/hint-key.conf;
        }
LOC
plan skip_all => 'nginx or the module is not built (make module)'
    unless $port;

seed_patients(fixture_patient(id => 'pat-s1'),
              fixture_patient(id => 'pat-s2', last_name => 'Other'));

my $http = HTTP::Tiny->new(timeout => 10);
my $url = "http://127.0.0.1:$port/caresync/hint/patients";
my %json = ('Content-Type' => 'application/json');
my $auth = { %json, Authorization => 'Bearer crm-token-0123456789abcdef' };
my $searches = sub {
    scalar @{ hint_requests(method => 'GET', path => qr/patients$/) };
};

my $res = $http->post($url, { headers => $auth, content => '{"q":"lopez"}' });
is($res->{status}, 200, 'with the CRM token: 200')
    or diag `tail -5 $dir/nginx/logs/error.log`;
my $list = eval { JSON::PP->new->decode($res->{content}) } || [];
is_deeply([ map { $_->{id} } @$list ], ['pat-s1'],
          'the matching Hint patients (case-insensitive)');
is_deeply([ sort keys %{ $list->[0] || {} } ],
          [qw(dob first_name id last_name)],
          'with id, names and birth date only');
unlike($res->{content} . join(' ', values %{ $res->{headers} }),
       qr/fake-hint-key/, 'the Hint key is not in the answer');

my $req = hint_requests(method => 'GET', path => qr/patients$/);
is(scalar @$req, 1, 'one Hint round trip');
like($req->[0]{query}, qr/^last_name=lopez&limit=20$/,
     'q passed as the name filter, with the limit');
is($req->[0]{authorization}, 'Bearer fake-hint-key',
   'Hint gets its key, not the caller\'s token');
is($req->[0]{body}, '', 'and no body: the name goes once, as the filter');

$res = $http->post($url, { headers => \%json, content => '{"q":"lopez"}' });
is($res->{status}, 401, 'no token: 401');
$res = $http->post($url, { headers => { %json, Authorization => 'Bearer wrong' },
                           content => '{"q":"lopez"}' });
is($res->{status}, 401, 'wrong token: 401');
is($searches->(), 1, 'Hint not called without a valid token');

# (nginx logs that URL: the one request of this file with a name in it)
$res = $http->get("$url?q=stalepage", { headers => $auth });
is($res->{status}, 405, 'the name in a URL (a GET, a page from before): 405');
is($res->{headers}{allow}, 'POST', '... Allow: POST');

# q cannot add Hint parameters
$res = $http->post($url, { headers => $auth,
                           content => '{"q":"lopez&offset=5"}' });
is($res->{status}, 400, 'not a name: 400');
is($searches->(), 1, 'Hint not called for a GET or for a q that is not a name');

$res = $http->post("http://127.0.0.1:$port/hint-down/hint/patients",
                   { headers => $auth, content => '{"q":"lopez"}' });
is($res->{status}, 502, 'Hint unreachable: 502');

# nginx writes a request's access log line when it closes the request
my $slurp = sub { open my $fh, '<', $_[0] or return ''; local $/; <$fh> };
my $access = "$dir/nginx/logs/access.log";
wait_for(sub { () = $slurp->($access) =~ m{"POST /hint-down/}g }, 10);
my $alog = $slurp->($access);
my $elog = $slurp->("$dir/nginx/logs/error.log");
like($alog, qr{"POST /caresync/hint/patients HTTP/1\.1" 200 }m,
     'the access log has the search');
like($elog, qr{\[debug\] .*http request line: "POST /caresync/hint/patients HTTP/1\.1"},
     'the error log has its debug lines');
like($elog, qr{connect\(\) failed \(111: Connection refused\) while connecting to upstream, .*upstream: "http://127\.0\.0\.1:$cport/api/provider/patients", }m,
     '... and the unreachable Hint, named without its query');
unlike($alog, qr/lopez/i, 'the name is not in the access log');
unlike($elog, qr/lopez/i, 'the name is not in the error log');
# nor what Hint answered, nor Hint's key (nginx itself logs the request's
# own headers at debug level, the caller's token among them)
unlike($elog, qr/Maria|1958-04-12|maria\.lopez\@example\.org|fake-hint-key/,
       'nor Hint\'s answer, nor Hint\'s key');

done_testing();
