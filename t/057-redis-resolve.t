# Drill: caresync_redis names a host, and the name moves.
#
# A DNS stub on loopback answers for the name; two real redis-servers
# listen on the same port of 127.0.0.1 and 127.0.0.2.  The name first
# points at the first; then the answer changes and the first is killed.
# nginx must resolve the name again when it reconnects (its own resolver,
# non-blocking) and carry on with the second, without a reload: only 200
# and 503 meanwhile, 200s again afterwards, each 200's job in the Redis it
# was answered from.  Then the second is demoted (a replica of a third,
# as a managed service's failover leaves it) while the name moves again:
# its READONLY must send the edge to the third.  `nginx -t` refuses a
# host name without a resolver;
# an address as written (a UNIX socket here) needs none.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Caresync::Test qw(fixture);
use Caresync::Drill;
use Caresync::RedisTopology;
use Caresync::DnsStub;

use File::Temp qw(tempdir);
use HTTP::Tiny;
use Time::HiRes qw(sleep time);

my $dir = tempdir('cs-resolve-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $name = 'redis.caresync.test';

# fail closed: a name with no resolver to ask
my ($ok, $out) = nginx_check('servroot-resolve-t',
                             redis_at => "$name:6379");
ok(!$ok, 'nginx -t refuses a host name without a resolver');
like($out, qr/is a host name: it needs a "resolver"/, '... and says why');

my $port = free_port_pair();
my $a = start_redis_node(dir => $dir, bind => '127.0.0.1', port => $port);
my $b = start_redis_node(dir => $dir, bind => '127.0.0.2', port => $port);
my $dns = start_dns_stub(dir => $dir, address => '127.0.0.1');

my $n = nginx_start('servroot-resolve', workers => 1,
    redis_at => "$name:$port", redis => 'timeout=2s connect_timeout=500ms',
    http => "resolver 127.0.0.1:$dns->{port} valid=1s ipv6=off;"
          . ' resolver_timeout 1s;');
ok($n->{started}, 'nginx starts with a host name and a resolver');

my $template = fixture('helparound/enrollment.json');
my $http = HTTP::Tiny->new(timeout => 5);
my $seq = 0;

sub post {
    my $id = sprintf 'hdns%010d', ++$seq;
    (my $body = $template) =~ s/ha61236024160af/$id/;
    return $http->post($n->{url}, {
        headers => { 'Content-Type' => 'application/json' },
        content => $body })->{status};
}

sub xlen { rcli($_[0], 'XLEN', '{caresync}:jobs') || 0 }

# posts until five 200s (for at most 15 s from $since); the answers, and
# the time to the first 200 in the test's output
sub five_200s {
    my ($since, $what) = @_;
    my (%got, $first);
    while (time < $since + 15) {
        my $s = post();
        $got{$s}++;
        next unless $s == 200;
        $first //= time;
        last if $got{200} >= 5;
    }
    diag(sprintf 'answers %s; the first 200 %.2f s after %s',
         join(' ', map { "$_:$got{$_}" } sort keys %got),
         ($first // time) - $since, $what);
    return %got;
}

# the first answer: 127.0.0.1
my $first = topology_wait(sub { post() == 200 }, 10);
ok($first, 'a 200 through the name');
my %got = (200 => 1);
$got{post()}++ for 1 .. 4;
is($got{200}, 5, 'five 200s') or diag(explain \%got);
is(xlen($a), 5, 'their jobs are in the first Redis');
is(xlen($b), 0, 'none in the second');
cmp_ok($dns->{queries}->(), '>', 0, 'the name was asked of the resolver');

# the name moves, the first Redis goes
dns_answer($dns, '127.0.0.2');
sleep 1.2;                      # what the resolver cached expires
kill_node($a);
my $killed = time;

my %after = five_200s($killed, 'the kill');

my @odd = grep { $_ != 200 && $_ != 503 } keys %after;
is("@odd", '', 'only 200 or 503 while the name moves');
is($after{200}, 5, '200s resumed without a reload');
is(xlen($b), $after{200}, 'every 200 since has its job in the second Redis');

# a managed service's failover keeps the old primary up, demoted: it
# answers READONLY on the connection the edge has, and the edge must
# leave it and resolve the name again
my $c = start_redis_node(dir => $dir, bind => '127.0.0.3', port => $port);
dns_answer($dns, '127.0.0.3');
sleep 1.2;
rcli($b, 'REPLICAOF', '127.0.0.3', $port);
my $demoted = time;
my %then = five_200s($demoted, 'the primary was demoted');
my @odd2 = grep { $_ != 200 && $_ != 503 } keys %then;
is("@odd2", '', 'only 200 or 503 while the primary is demoted');
is($then{200}, 5, '200s resumed on the new primary');
is(xlen($c), 5, 'every 200 since has its job in the new primary');

my $log = $n->{log}->();
like($log, qr/caresync: redis 127\.0\.0\.2:\d+ is no primary now \(READONLY/,
     'the demoted primary was left');
like($log, qr/redis connection lost/, 'the log has the loss');
like($log, qr/caresync: redis connected.*\n(?s:.*)caresync: redis connected/,
     'and a second connection');
unlike($log, qr/\[(alert|crit|emerg)\]/, 'no alert in the error log');
ok($n->{quit}->(), 'nginx exited within 5 s of quit');

# a UNIX socket: no resolver, no port (the workers may run as nobody)
chmod 0755, $dir;
my $u = start_redis_node(dir => $dir, args => [
    '--unixsocket', "$dir/redis.sock", '--unixsocketperm', '777']);
my $un = nginx_start('servroot-resolve-unix', workers => 1,
                     redis_at => "unix:$dir/redis.sock");
ok($un->{started}, 'nginx starts with a UNIX socket');
$n = $un;
ok(topology_wait(sub { post() == 200 }, 10), 'a 200 through the socket');
is(xlen($u), 1, 'its job is in that Redis');
ok($un->{quit}->(), 'nginx exited within 5 s of quit');

done_testing();
