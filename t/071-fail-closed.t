# What `nginx -t` refuses, and what it only warns about: a location that
# queues jobs must say who may post to it (spec/inbound.md, "Auth").
#
# And what a secret must be (spec/inbound.md, "Empty names, secrets and
# tokens are configuration errors"): not empty, inline or in a file, and a
# file that neither group nor others may open.  The same for the job keys
# (caresync_job_key): a configuration that queues jobs seals their PHI,
# or says "caresync_job_key off".
#
# Each case is a configuration checked with the stock nginx and the module
# (`nginx -t`, nothing is started); it is refused (exit status not 0, the
# emerg line matching `refused`) or accepted (exit 0, the `warn` pattern,
# when given, among the lines nginx printed).  Cases that are accepted
# prove the harness can tell the two apart.
#
# `files` are written, with their modes, to a directory that the
# configuration reaches as {dir}; `redis` replaces the caresync_redis line,
# `jobkey` the caresync_job_key line (a key from {dir}/t1.key);
# `secret` is a text that nginx must never print.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use Test::More;

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module = $ENV{TEST_NGINX_LOAD_MODULES}
    || abs_path('build/ngx_http_caresync_module.so');
my $root = abs_path('t') . '/servroot-fail-closed';
my $dir = tempdir('caresync-fail-closed-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# The case's files, afresh: name => [content, mode], or name => \'target'
# for a symbolic link to another of them.
sub write_files {
    my ($files) = @_;
    for my $name (sort keys %{ $files || {} }) {
        my $path = "$dir/$name";
        unlink $path;
        my $f = $files->{$name};
        if (ref $f eq 'SCALAR') {
            symlink("$dir/$$f", $path) or die "$path: $!";
            next;
        }
        open my $out, '>', $path or die "$path: $!";
        print $out $f->[0];
        close $out or die "$path: $!";
        chmod $f->[1], $path or die "$path: $!";
    }
}

# nginx -t over a configuration whose server block holds $server; returns
# (exit status, what nginx printed)
sub nginx_t {
    my ($server, $http, $redis, $jobkey) = @_;
    $http //= '';
    $redis //= 'caresync_redis 127.0.0.1:6379;';
    $jobkey //= 'caresync_job_key t1 file:{dir}/t1.key;';
    s/\{dir\}/$dir/g for $server, $http, $redis, $jobkey;

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
    $redis
    $jobkey
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

# a webhook location, and a Hint one, with the given directives
sub wh   { "location /e { caresync_webhook helparound_enrollment; $_[0] }" }

# the key every case has unless it says otherwise, and two more
my %key = (t1 => 'a1' x 32, t2 => '0f' x 32, t3 => 'C3' x 32);
write_files({ map { ("$_.key" => ["$key{$_}\n", 0600]) } sort keys %key });
my $open = wh('caresync_auth off;');
sub hint { "location /h { caresync_webhook hint; $_[0] }" }

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
        name    => 'the console with no bearer token',
        server  => 'location /console/ { caresync_console; }',
        refused => qr/location "\/console\/": "caresync_console" needs at least one "caresync_api_token"; "caresync_auth off" is not accepted there/,
    },
    {
        name    => 'the console cannot be opened with "caresync_auth off"',
        server  => 'location /console/ { caresync_console; caresync_auth off; }',
        refused => qr/"caresync_console" needs at least one "caresync_api_token"; "caresync_auth off" is not accepted there/,
    },
    {
        name    => 'the console needs a prefix location ending with a slash',
        server  => 'location /console { caresync_console; caresync_api_token t0ken; }',
        refused => qr/"caresync_console" needs a prefix location whose name ends with "\/"/,
    },
    {
        name    => 'the console is not an exact location',
        server  => 'location = /console/ { caresync_console; caresync_api_token t0ken; }',
        refused => qr/"caresync_console" needs a prefix location whose name ends with "\/"/,
    },
    {
        name    => 'the console and the actions API in one location',
        server  => 'location /console/ { caresync_api; caresync_console; caresync_api_token t0ken; }',
        refused => qr/"caresync_console" directive is duplicate/,
    },
    {
        name    => 'the console with a token bound to agents',
        server  => 'location /console/ { caresync_console; caresync_api_token t0ken; caresync_api_token t1ken agents=a@example.org; }',
        refused => qr/location "\/console\/": "caresync_console" shows every agent's jobs: its "caresync_api_token"s may not be bound to agents \(agents=\)/,
    },
    {
        name    => 'the OAuth callback needs a prefix location ending with a slash',
        server  => 'location /oauth/healthsherpa { caresync_oauth_callback; }',
        refused => qr/"caresync_oauth_callback" needs a prefix location whose name ends with "\/"/,
    },
    {
        name    => 'the OAuth callback needs no token: its state is the credential',
        server  => 'location /oauth/healthsherpa/ { caresync_oauth_callback; }',
    },
    {
        name    => 'the console with a token is accepted',
        server  => 'location /console/ { caresync_console; caresync_api_token t0ken; }',
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
    # --- empty names, secrets, tokens and keys ---------------------------
    {
        name    => 'an empty shared secret',
        server  => wh('caresync_auth_header X-Secret "";'),
        refused => qr/"caresync_auth_header" parameter #2 is empty/,
    },
    {
        name    => 'an empty header name (it would turn the check off)',
        server  => wh('caresync_auth_header "" s3cret-not-printed;'),
        refused => qr/"caresync_auth_header" parameter #1 is not a header name/,
        secret  => 's3cret-not-printed',
    },
    {
        name    => 'a header name that no request can send',
        server  => wh('caresync_auth_header "X Secret:" s3cret;'),
        refused => qr/"caresync_auth_header" parameter #1 is not a header name/,
    },
    {
        name    => 'an empty next secret',
        server  => wh('caresync_auth_header X-Secret s3cret-not-printed "";'),
        refused => qr/"caresync_auth_header" parameter #3 is empty/,
        secret  => 's3cret-not-printed',
    },
    {
        name    => 'an empty bearer token',
        server  => 'location /caresync/ { caresync_api; caresync_api_token ""; }',
        refused => qr/"caresync_api_token" parameter #1 is empty/,
    },
    {
        name    => 'an empty HMAC key',
        server  => hint('caresync_hmac_signature key=;'),
        refused => qr/"caresync_hmac_signature" parameter #1 is empty/,
    },
    {
        name    => 'an HMAC key "hex:" with nothing after it',
        server  => hint('caresync_hmac_signature key=k3y-not-printed key=hex:;'),
        refused => qr/"caresync_hmac_signature" parameter #2 does not decode as a signing key, or decodes to nothing/,
        secret  => 'k3y-not-printed',
    },
    {
        name    => 'an HMAC key "base64:" with nothing after it',
        server  => hint('caresync_hmac_signature key=base64:;'),
        refused => qr/"caresync_hmac_signature" parameter #1 does not decode/,
    },
    {
        name    => 'an HMAC key "base64:" of padding only',
        server  => hint('caresync_hmac_signature key=base64:====;'),
        refused => qr/"caresync_hmac_signature" parameter #1 does not decode/,
    },
    {
        name    => 'an HMAC key "whsec_" with nothing after it',
        server  => hint('caresync_hmac_signature key=whsec_;'),
        refused => qr/"caresync_hmac_signature" parameter #1 does not decode/,
    },
    {
        name    => 'an empty HMAC header=',
        server  => hint('caresync_hmac_signature key=k3y header=;'),
        refused => qr/"caresync_hmac_signature" parameter #2 is not a header name/,
    },
    {
        name    => 'an empty Standard Webhooks secret',
        server  => wh('caresync_standard_webhooks "";'),
        refused => qr/"caresync_standard_webhooks" parameter #1 is empty/,
    },
    {
        name    => 'a Standard Webhooks secret "whsec_" with nothing after it',
        server  => wh('caresync_standard_webhooks whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_;'),
        refused => qr/"caresync_standard_webhooks" parameter #2 does not decode/,
        secret  => 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    },
    {
        name    => '"file:" with no path',
        server  => wh('caresync_auth_header X-Secret file:;'),
        refused => qr/"caresync_auth_header" parameter #2 has "file:" with no path/,
    },
    {
        name    => 'an empty secret file',
        files   => { 'empty.secret' => ['', 0600] },
        server  => wh('caresync_auth_header X-Secret file:{dir}/empty.secret;'),
        refused => qr/"caresync_auth_header" parameter #2: file "[^"]*\/empty\.secret" is empty/,
    },
    {
        name    => 'a token file that holds only a newline',
        files   => { 'newline.token' => ["\n", 0600] },
        server  => 'location /caresync/ { caresync_api;
                        caresync_api_token file:{dir}/newline.token; }',
        refused => qr/"caresync_api_token" parameter #1: file "[^"]*\/newline\.token" is empty/,
    },
    {
        name    => 'a key file that holds "hex:" and a newline',
        files   => { 'hex.key' => ["hex:\n", 0600] },
        server  => hint('caresync_hmac_signature key=file:{dir}/hex.key;'),
        refused => qr/"caresync_hmac_signature" parameter #1 does not decode/,
    },
    {
        name    => 'a Standard Webhooks secret file that holds "whsec_" only',
        files   => { 'empty.whsec' => ["whsec_\n", 0600] },
        server  => wh('caresync_standard_webhooks file:{dir}/empty.whsec;'),
        refused => qr/"caresync_standard_webhooks" parameter #1 does not decode/,
    },
    {
        name    => 'a directory is not a secret file',
        server  => wh('caresync_auth_header X-Secret file:{dir};'),
        refused => qr/"caresync_auth_header" parameter #2: file "[^"]*" is not a regular file of at most 4096 bytes/,
    },

    # --- who may read a secret file --------------------------------------
    {
        name    => 'a secret file readable by everyone (0644)',
        files   => { 'open.secret' => ["s3cret-in-file\n", 0644] },
        server  => wh('caresync_auth_header X-Secret file:{dir}/open.secret;'),
        refused => qr/"caresync_auth_header" parameter #2: file "\Q$dir\E\/open\.secret" may be read or written by group or others \(mode 0644\): chmod 600 it \(or 400\), owned by the user nginx's master process runs as/,
        secret  => 's3cret-in-file',
    },
    {
        name    => 'a secret file readable by its group (0640)',
        files   => { 'group.token' => ["t0ken-in-file\n", 0640] },
        server  => 'location /caresync/ { caresync_api;
                        caresync_api_token file:{dir}/group.token; }',
        refused => qr/"caresync_api_token" parameter #1: file "\Q$dir\E\/group\.token" may be read or written by group or others \(mode 0640\): chmod 600 it/,
        secret  => 't0ken-in-file',
    },
    {
        name    => 'a key file that others may write (0602)',
        files   => { 'written.key' => ["k3y-in-file\n", 0602] },
        server  => hint('caresync_hmac_signature key=file:{dir}/written.key;'),
        refused => qr/file "\Q$dir\E\/written\.key" may be read or written by group or others \(mode 0602\)/,
        secret  => 'k3y-in-file',
    },
    {
        name    => 'a link to a file readable by everyone: the file opened counts',
        files   => { 'open.whsec' => ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", 0644],
                     'link.whsec' => \'open.whsec' },
        server  => wh('caresync_standard_webhooks file:{dir}/link.whsec;'),
        refused => qr/file "\Q$dir\E\/link\.whsec" may be read or written by group or others \(mode 0644\)/,
        secret  => 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    },
    {
        name    => 'a secret file only its owner may read (0600), through a link too',
        files   => { 'own.secret' => ["s3cret-in-file\n", 0600],
                     'own.key'    => ["k3y-in-file\n", 0400],
                     'own.link'   => \'own.secret' },
        server  => wh('caresync_auth_header X-Secret file:{dir}/own.secret
                                          file:{dir}/own.link;') . '
                    ' . hint('caresync_hmac_signature key=file:{dir}/own.key;'),
        nowarn  => qr/caresync/,
        secret  => 's3cret-in-file',
    },

    # --- the Redis password ----------------------------------------------
    {
        name    => 'an empty Redis password',
        redis   => 'caresync_redis 127.0.0.1:6379 password=;',
        server  => wh('caresync_auth_header X-Secret s3cret;'),
        refused => qr/"caresync_redis" parameter #2 is empty/,
    },
    {
        name    => 'a Redis password file that is empty',
        files   => { 'empty.redis' => ["\n", 0600] },
        redis   => 'caresync_redis 127.0.0.1:6379 password=file:{dir}/empty.redis;',
        server  => wh('caresync_auth_header X-Secret s3cret;'),
        refused => qr/"caresync_redis" parameter #2: file "[^"]*\/empty\.redis" is empty/,
    },
    {
        name    => 'a Redis password file readable by everyone',
        files   => { 'open.redis' => ["redis-pa55word\n", 0644] },
        redis   => 'caresync_redis 127.0.0.1:6379 db=1 password=file:{dir}/open.redis;',
        server  => wh('caresync_auth_header X-Secret s3cret;'),
        refused => qr/"caresync_redis" parameter #3: file "\Q$dir\E\/open\.redis" may be read or written by group or others \(mode 0644\)/,
        secret  => 'redis-pa55word',
    },
    {
        name    => 'a Redis password from a file of mode 0600',
        files   => { 'own.redis' => ["redis-pa55word\n", 0600] },
        redis   => 'caresync_redis 127.0.0.1:6379 password=file:{dir}/own.redis;',
        server  => wh('caresync_auth_header X-Secret s3cret;'),
        nowarn  => qr/caresync/,
        secret  => 'redis-pa55word',
    },

    # --- tokens bound to agents ------------------------------------------
    {
        name    => 'a token given twice',
        server  => 'location /caresync/ { caresync_api; caresync_api_token t0ken;
                        caresync_api_token t0ken agents=a@example.org; }',
        refused => qr/"caresync_api_token" directive is duplicate: the same token is given twice/,
    },
    {
        name    => 'agents= that is empty',
        server  => 'location /caresync/ { caresync_api;
                        caresync_api_token t0ken agents=; }',
        refused => qr/"caresync_api_token" parameter #2 is empty/,
    },
    {
        name    => 'agents= that names no agent',
        server  => 'location /caresync/ { caresync_api;
                        caresync_api_token t0ken agents=,,; }',
        refused => qr/"caresync_api_token" parameter #2 names no agent/,
    },
    {
        name    => 'an agent longer than an e-mail address can be',
        server  => 'location /caresync/ { caresync_api;
                        caresync_api_token t0ken agents=' . ('a' x 250) . '@example.org; }',
        refused => qr/"caresync_api_token" parameter #2 names an agent longer than 254 bytes/,
        secret  => 'a' x 250,
    },
    {
        name    => 'an agents file readable by everyone',
        files   => { 'open.agents' => ["alice\@example.org\n", 0644] },
        server  => 'location /caresync/ { caresync_api;
                        caresync_api_token t0ken agents=file:{dir}/open.agents; }',
        refused => qr/"caresync_api_token" parameter #2: file "\Q$dir\E\/open\.agents" may be read or written by group or others \(mode 0644\)/,
        secret  => 'alice@example.org',
    },
    {
        name    => 'something else than agents=',
        server  => 'location /caresync/ { caresync_api;
                        caresync_api_token t0ken bob@example.org; }',
        refused => qr/invalid parameter #2/,
        secret  => 'bob@example.org',
    },
    {
        name    => 'tokens bound to agents, inline and from a file',
        files   => { 'own.agents' => ["alice\@example.org\nbob\@example.org, 005000000000001AAA\n", 0600] },
        server  => 'location /caresync/ { caresync_api;
                        caresync_api_token t0ken agents=alice@example.org,Bob@Example.org;
                        caresync_api_token other-t0ken agents=file:{dir}/own.agents;
                        caresync_api_token ops-t0ken; }',
        nowarn  => qr/caresync/,
    },
    # --- the job keys ----------------------------------------------------
    {
        name    => 'a webhook with no job key',
        jobkey  => '',
        server  => $open,
        refused => qr/"caresync_webhook" and "caresync_api" queue jobs that hold PHI: add "caresync_job_key <id> file:\/path;" to the http block \(or "caresync_job_key off;"\)/,
    },
    {
        name    => 'the actions API with no job key',
        jobkey  => '',
        server  => 'location /caresync/ { caresync_api; caresync_api_token t0ken; }',
        refused => qr/queue jobs that hold PHI: add "caresync_job_key/,
    },
    {
        name    => 'no job key and no location that queues: nothing to seal',
        jobkey  => '',
        server  => 'location / { return 204; }',
        nowarn  => qr/caresync_job_key/,
    },
    {
        name    => '"caresync_job_key off" starts, warned about',
        jobkey  => 'caresync_job_key off;',
        server  => $open,
        warn    => qr/\[warn\].*"caresync_job_key off": jobs are queued with their PHI readable in Redis/,
    },
    {
        name    => 'a job key file readable by everyone',
        files   => { 'open.key' => [('ab' x 32) . "\n", 0644] },
        jobkey  => 'caresync_job_key k1 file:{dir}/open.key;',
        server  => $open,
        refused => qr/"caresync_job_key" parameter #2: file "\Q$dir\E\/open\.key" may be read or written by group or others \(mode 0644\)/,
        secret  => 'ab' x 32,
    },
    {
        name    => 'a job key file that is empty',
        files   => { 'empty.key' => ["\n", 0600] },
        jobkey  => 'caresync_job_key k1 file:{dir}/empty.key;',
        server  => $open,
        refused => qr/"caresync_job_key" parameter #2: file "[^"]*\/empty\.key" is empty/,
    },
    {
        name    => 'a job key file of 16 bytes, not 32',
        files   => { 'short.key' => [('5e' x 16) . "\n", 0600] },
        jobkey  => 'caresync_job_key k1 file:{dir}/short.key;',
        server  => $open,
        refused => qr/"caresync_job_key" parameter #2: file "\Q$dir\E\/short\.key" does not hold a key of 64 hex characters \(as "openssl rand -hex 32" writes it\)/,
        secret  => '5e' x 16,
    },
    {
        name    => 'a job key file that is not hex',
        files   => { 'text.key' => [('zq' x 32) . "\n", 0600] },
        jobkey  => 'caresync_job_key k1 file:{dir}/text.key;',
        server  => $open,
        refused => qr/file "\Q$dir\E\/text\.key" does not hold a key of 64 hex/,
        secret  => 'zq' x 32,
    },
    {
        name    => 'a job key file larger than a key file can be',
        files   => { 'big.key' => [('ab' x 32) . "\n" . ('#' x 5000), 0600] },
        jobkey  => 'caresync_job_key k1 file:{dir}/big.key;',
        server  => $open,
        refused => qr/"caresync_job_key" parameter #2: file "\Q$dir\E\/big\.key" is not a regular file of at most 4096 bytes/,
    },
    {
        name    => 'a job key file that is missing',
        jobkey  => 'caresync_job_key k1 file:{dir}/missing.key;',
        server  => $open,
        refused => qr/open\(\) "\Q$dir\E\/missing\.key" failed/,
    },
    {
        name    => 'a job key written inline',
        jobkey  => 'caresync_job_key k1 ' . ('cd' x 32) . ';',
        server  => $open,
        refused => qr/"caresync_job_key" directive reads its key from a file only: "file:\/path"/,
    },
    {
        name    => 'a job key id with a space',
        jobkey  => 'caresync_job_key "k 1" file:{dir}/t1.key;',
        server  => $open,
        refused => qr/"caresync_job_key" directive needs a key id of 1 to 32 letters, digits/,
    },
    {
        name    => 'a job key id listed twice',
        jobkey  => 'caresync_job_key k1 file:{dir}/t1.key;
                    caresync_job_key k1 file:{dir}/t2.key;',
        server  => $open,
        refused => qr/"caresync_job_key": key id "k1" is listed twice, or its key is listed under another id/,
    },
    {
        name    => 'one key under two ids',
        jobkey  => 'caresync_job_key k1 file:{dir}/t1.key;
                    caresync_job_key k2 file:{dir}/t1.key;',
        server  => $open,
        refused => qr/key id "k2" is listed twice, or its key is listed under another id/,
    },
    {
        name    => '"off" beside keys',
        jobkey  => 'caresync_job_key k1 file:{dir}/t1.key; caresync_job_key off;',
        server  => $open,
        refused => qr/"caresync_job_key" directive "off" cannot be mixed with keys/,
    },
    {
        name    => 'three keys while rotating, from files of mode 0600',
        jobkey  => 'caresync_job_key t1 file:{dir}/t1.key;
                    caresync_job_key t2 file:{dir}/t2.key;
                    caresync_job_key 2026-12.t3 file:{dir}/t3.key;',
        server  => $open,
        nowarn  => qr/caresync_job_key/,
        secret  => 'C3' x 32,
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
    write_files($c->{files});
    my ($status, $out) = nginx_t($c->{server}, $c->{http}, $c->{redis},
                                 $c->{jobkey});

    # no key's hex is ever printed
    unlike($out, qr/\Q$key{$_}\E/i, "$c->{name}: key $_ is not printed")
        for sort keys %key;

    unlike($out, qr/\Q$c->{secret}\E/, "$c->{name}: the secret is not printed")
        if defined $c->{secret};

    if ($c->{refused}) {
        isnt($status, 0, "$c->{name}: refused by nginx -t");
        like($out, qr/\[emerg\]/, "$c->{name}: an emerg line");
        like($out, $c->{refused}, "$c->{name}: the message says what to do");
        next;
    }

    is($status, 0, "$c->{name}: accepted by nginx -t") or diag($out);
    like($out, qr/test is successful/, "$c->{name}: nginx says so");
    like($out, $c->{warn}, "$c->{name}: the warning") if $c->{warn};
    unlike($out, $c->{nowarn}, "$c->{name}: nothing about $c->{nowarn}")
        if $c->{nowarn};
}

remove_tree($root) unless $ENV{TEST_NGINX_NO_CLEAN};

done_testing();
