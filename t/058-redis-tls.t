# TLS to Redis: a real redis-server with --tls-port and a CA made here.
#
# The trusted CA and the name the certificate must carry are checked on
# every connection (verification is always on): the right CA → 200s with
# the jobs in that Redis; a wrong CA, a wrong name, or a server that asks
# for a client certificate nginx does not have → a log line that says so
# and 503s, and nothing reaches Redis (never a fallback to plaintext).
# `nginx -t` refuses an incomplete or unsafe TLS configuration.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Caresync::Test qw(fixture);
use Caresync::Drill;
use Caresync::RedisTopology;

use File::Copy qw(copy);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use Time::HiRes qw(sleep time);

my $dir = tempdir('cs-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# a server that wants no client certificate, and one that does
my $open = start_tls_redis(dir => $dir, auth_clients => 'no');
my $mtls = start_tls_redis(dir => $dir, auth_clients => 'yes');

my $template = fixture('helparound/enrollment.json');
my $http = HTTP::Tiny->new(timeout => 5);
my $seq = 0;

sub post {
    my ($n) = @_;
    my $id = sprintf 'htls%010d', ++$seq;
    (my $body = $template) =~ s/ha61236024160af/$id/;
    return $http->post($n->{url}, {
        headers => { 'Content-Type' => 'application/json' },
        content => $body })->{status};
}

sub xlen {
    my ($node) = @_;
    return rcli({ port => $node->{plain_port} }, 'XLEN', '{caresync}:jobs')
           || 0;
}

# posts $count times once the connection had its chance; the answers
sub answers {
    my ($n, $count) = @_;
    sleep 0.5;
    my %s;
    $s{ post($n) }++ for 1 .. $count;
    return \%s;
}

sub tls_conf {
    my ($node, %o) = @_;
    return join ' ', 'caresync_redis_tls on;',
        "caresync_redis_tls_trusted_certificate $o{ca};",
        $o{name} ? "caresync_redis_tls_name $o{name};" : (),
        $o{cert} ? ("caresync_redis_tls_certificate $o{cert};",
                    "caresync_redis_tls_certificate_key $o{key};") : ();
}

my $case = 0;

sub drill {
    my ($what, $node, $want, $log_re, %o) = @_;
    my $n = nginx_start('servroot-tls-' . ++$case, workers => 1,
        redis_at => "127.0.0.1:$node->{port}",
        redis => 'timeout=1s connect_timeout=500ms',
        http => tls_conf($node, %o));
    ok($n->{started}, "$what: nginx starts");
    my $before = xlen($node);
    my $got = answers($n, 5);
    is_deeply($got, { $want => 5 }, "$what: five $want answers")
        or diag(explain $got);
    is(xlen($node) - $before, $want == 200 ? 5 : 0,
       $want == 200 ? "$what: the jobs are in Redis"
                    : "$what: nothing reached Redis");
    my $log = $n->{log}->();
    like($log, $log_re, "$what: the log says so") if $log_re;
    # nginx's SSL layer reports the server's refusal itself, at crit
    $log =~ s/^.*\[crit\].*SSL_read\(\) failed.*alert certificate required.*\n//mg
        if $o{refused};
    unlike($log, qr/\[(alert|crit|emerg)\]/, "$what: no alert");
    ok($n->{quit}->(), "$what: nginx quits");
    return $log;
}

# the certificate names 127.0.0.1 (an IP subjectAltName) and localhost
drill('right CA, the address', $open, 200, qr/caresync: redis connected/,
      ca => $open->{ca});
drill('right CA, tls_name', $open, 200, qr/caresync: redis connected/,
      ca => $open->{ca}, name => 'localhost');
drill('client certificate', $mtls, 200, qr/caresync: redis connected/,
      ca => $mtls->{ca}, cert => $mtls->{client_cert},
      key => $mtls->{client_key});

drill('wrong CA', $open, 503,
      qr/redis TLS: certificate of 127\.0\.0\.1:\d+ refused/,
      ca => $open->{other_ca});
drill('wrong name', $open, 503,
      qr/redis TLS: certificate of 127\.0\.0\.1:\d+ does not name "redis\.example"/,
      ca => $open->{ca}, name => 'redis.example');
drill('no client certificate', $mtls, 503,
      qr/alert certificate required(?s:.*)caresync: redis connection lost/,
      ca => $mtls->{ca}, refused => 1);

# TLS spoken to a plaintext port: refused, never carried on in the clear
{
    my $n = nginx_start('servroot-tls-plain', workers => 1,
        redis_at => "127.0.0.1:$open->{plain_port}",
        redis => 'timeout=1s connect_timeout=500ms',
        http => tls_conf($open, ca => $open->{ca}));
    my $before = xlen($open);
    is_deeply(answers($n, 3), { 503 => 3 }, 'TLS to a plaintext port: 503s');
    is(xlen($open), $before, '... and nothing reached Redis');
    like($n->{log}->(), qr/redis TLS handshake with \S+ (failed|timed out)/,
         '... the log says the handshake failed');
    ok($n->{quit}->(), '... nginx quits');
}

# nginx -t
my %bad = (
    'no trusted certificate' => [
        'caresync_redis_tls on;',
        qr/needs "caresync_redis_tls_trusted_certificate"/],
    'tls_* without tls' => [
        "caresync_redis_tls_trusted_certificate $open->{ca};",
        qr/"caresync_redis_tls_\*" is set but "caresync_redis_tls" is off/],
    'a certificate without its key' => [
        tls_conf($open, ca => $open->{ca})
        . " caresync_redis_tls_certificate $mtls->{client_cert};",
        qr/go together/],
);

copy($mtls->{client_key}, "$dir/open.key") or die $!;
chmod 0644, "$dir/open.key";
$bad{'a key others may read'} = [
    tls_conf($mtls, ca => $mtls->{ca}, cert => $mtls->{client_cert},
             key => "$dir/open.key"),
    qr/"caresync_redis_tls_certificate_key" parameter #1: file "\S+open\.key" may be read or written by group or others \(mode 0644\)/];

for my $what (sort keys %bad) {
    my ($ok, $out) = nginx_check('servroot-tls-t',
        redis_at => "127.0.0.1:$open->{port}", http => $bad{$what}[0]);
    ok(!$ok, "nginx -t refuses $what");
    like($out, $bad{$what}[1], '... and says why');
}

done_testing();
