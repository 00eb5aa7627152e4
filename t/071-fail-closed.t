# What `nginx -t` refuses, and what it only warns about: a location that
# queues jobs must say who may post to it (spec/inbound.md, "Auth").
#
# Each case is a configuration checked with the stock nginx and the module
# (`nginx -t`, nothing is started); it is refused (exit status not 0, the
# emerg line matching `refused`) or accepted (exit 0, the `warn` pattern,
# when given, among the lines nginx printed).  The last case proves the
# harness can tell the two apart: a configuration it must accept.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use Test::More;

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module = $ENV{TEST_NGINX_LOAD_MODULES}
    || abs_path('build/ngx_http_caresync_module.so');
my $root = abs_path('t') . '/servroot-fail-closed';

# nginx -t over a configuration whose server block holds $server; returns
# (exit status, what nginx printed)
sub nginx_t {
    my ($server, $http) = @_;
    $http //= '';

    remove_tree($root);
    make_path("$root/conf", "$root/logs");
    open my $fh, '>', "$root/conf/nginx.conf" or die $!;
    print $fh <<"CONF";
load_module $module;
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    caresync_redis 127.0.0.1:6379;
    $http
    server {
        listen 127.0.0.1:1;
        $server
    }
}
CONF
    close $fh;

    my $out = `$nginx -t -p $root/ -c conf/nginx.conf 2>&1`;
    return ($? >> 8, $out);
}

my @cases = (
    {
        name    => 'a HelpAround webhook with no authenticator',
        server  => 'location = /webhook/user-enrollment {
                        caresync_webhook helparound_enrollment; }',
        refused => qr/location "\/webhook\/user-enrollment": "caresync_webhook" has no authenticator: add "caresync_hmac_signature", "caresync_standard_webhooks" or "caresync_auth_header" \(or "caresync_auth off;"\)/,
    },
    {
        name    => 'the user-action webhook with no authenticator',
        server  => 'location /ua { caresync_webhook helparound_user_action; }',
        refused => qr/location "\/ua": "caresync_webhook" has no authenticator/,
    },
    {
        name    => 'a Hint webhook with no signature key',
        server  => 'location /hint { caresync_webhook hint; }',
        refused => qr/location "\/hint": "caresync_webhook" has no authenticator/,
    },
    {
        name    => 'bearer tokens do not guard a webhook',
        server  => 'caresync_api_token t0ken;
                    location /e { caresync_webhook helparound_enrollment; }',
        refused => qr/location "\/e": "caresync_webhook" has no authenticator/,
    },
    {
        name    => 'the actions API with no bearer token',
        server  => 'location /caresync/ { caresync_api; }',
        refused => qr/location "\/caresync\/": "caresync_api" needs at least one "caresync_api_token" \(or "caresync_auth off;"\)/,
    },
    {
        name    => 'a sender check does not guard the actions API',
        server  => 'caresync_auth_header X-Secret s3cret;
                    location /caresync/ { caresync_api; }',
        refused => qr/"caresync_api" needs at least one "caresync_api_token"/,
    },
    {
        name    => '"caresync_auth off" cannot be set for a whole server',
        server  => 'caresync_auth off;
                    location /e { caresync_webhook helparound_enrollment; }',
        refused => qr/"caresync_auth" directive is not allowed here/,
    },
    {
        name    => '"caresync_auth" where nothing is queued',
        server  => 'location /x { caresync_auth off; return 204; }',
        refused => qr/"caresync_auth" in location "\/x" that has no "caresync_webhook" or "caresync_api"/,
    },
    {
        name    => 'a webhook that says "caresync_auth off" starts, warned about',
        server  => 'location /e { caresync_webhook helparound_enrollment;
                                  caresync_auth off; }',
        warn    => qr/\[warn\].*"caresync_auth off": location "\/e" accepts requests from anyone who can reach it/,
    },
    {
        name    => 'the API with "caresync_auth off" starts, warned about',
        server  => 'location /caresync/ { caresync_api; caresync_auth off; }',
        warn    => qr/\[warn\].*"caresync_auth off": location "\/caresync\/" accepts requests/,
    },
    {
        name    => 'an authenticator inherited from the server is enough',
        server  => 'caresync_auth_header X-Secret s3cret;
                    location /e { caresync_webhook helparound_enrollment; }',
        nowarn  => qr/caresync_auth/,
    },
    {
        name    => 'each authenticator is enough',
        server  => 'location /a { caresync_webhook helparound_enrollment;
                                  caresync_auth_header X-Secret s3cret; }
                    location /b { caresync_webhook hint;
                                  caresync_hmac_signature key=k3y; }
                    location /c { caresync_webhook helparound_user_action;
                                  caresync_standard_webhooks
                                      whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw; }
                    location /caresync/ { caresync_api;
                                          caresync_api_token t0ken; }',
        nowarn  => qr/caresync_auth/,
    },
);

for my $c (@cases) {
    my ($status, $out) = nginx_t($c->{server}, $c->{http});

    if ($c->{refused}) {
        isnt($status, 0, "$c->{name}: refused by nginx -t");
        like($out, qr/\[emerg\]/, "$c->{name}: an emerg line");
        like($out, $c->{refused}, "$c->{name}: the message says what to do");
        next;
    }

    is($status, 0, "$c->{name}: accepted by nginx -t") or diag($out);
    like($out, qr/test is successful/, "$c->{name}: nginx says so");
    like($out, $c->{warn}, "$c->{name}: the warning") if $c->{warn};
    unlike($out, $c->{nowarn}, "$c->{name}: nothing about caresync_auth")
        if $c->{nowarn};
}

remove_tree($root) unless $ENV{TEST_NGINX_NO_CLEAN};

done_testing();
