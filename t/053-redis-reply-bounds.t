# A reply larger than any the module asks for is refused, not held.
#
# A real redis-server holds status records made too large on purpose: one
# with more fields than the module's bound on a reply's items, one with a
# value past its bound on a reply's bytes.  GET of either is a 503 and a
# log line that names the bounds; the connection is dropped and made
# again, and a normal record is answered 200 right after.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Caresync::Test qw(json_decode);
use Caresync::Drill;
use Caresync::RedisTopology;

use File::Temp qw(tempdir);
use HTTP::Tiny;
use Time::HiRes qw(sleep);

my $dir = tempdir('cs-bounds-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $node = start_redis_node(dir => $dir);

my %id = (small => '01JD3QZ8Y5K2M7W9X4T6R1B0CE',
          items => '01JD3QZ8Y5K2M7W9X4T6R1B0CF',
          bytes => '01JD3QZ8Y5K2M7W9X4T6R1B0CG');
rcli($node, 'HSET', "{caresync}:job:$id{small}", 'type', 'healthsherpa.sync',
     'status', 'queued');
rcli($node, 'EVAL', "for i = 1, 40000 do redis.call('HSET', KEYS[1], "
     . "'f' .. i, 'v') end", 1, "{caresync}:job:$id{items}");
rcli($node, 'EVAL', "redis.call('HSET', KEYS[1], 'status', "
     . "string.rep('x', 9 * 1024 * 1024))", 1, "{caresync}:job:$id{bytes}");
is(rcli($node, 'HLEN', "{caresync}:job:$id{items}"), 40000,
   'a record of 80000 items in a reply');
cmp_ok(rcli($node, 'HSTRLEN', "{caresync}:job:$id{bytes}", 'status'), '>',
       8 * 1024 * 1024, 'a record of more than 8 MB');

my $n = nginx_start('servroot-bounds', workers => 1,
    redis_at => "127.0.0.1:$node->{port}",
    server => 'location /caresync/ { caresync_api; '
            . 'caresync_api_token t0ken; }');
ok($n->{started}, 'nginx starts');

my $http = HTTP::Tiny->new(timeout => 10);
my $base = "http://127.0.0.1:$n->{port}/caresync/jobs";

sub status_of {
    my $res = $http->get("$base/$_[0]",
                         { headers => { Authorization => 'Bearer t0ken' } });
    return $res->{status};
}

ok(topology_wait(sub { status_of($id{small}) == 200 }, 10),
   'a normal record: 200');

for my $what (qw(items bytes)) {
    is(status_of($id{$what}), 503, "too many $what: 503");
    ok(topology_wait(sub { status_of($id{small}) == 200 }, 5),
       '... and a normal record is answered 200 again');
}

my $log = $n->{log}->();
my @bounds = $log =~ /caresync: redis reply past the bounds \(8388608 bytes, 65536 items, 4 levels\): dropping the connection/g;
is(scalar @bounds, 2, 'both refusals are logged with the bounds');
my @connected = $log =~ /caresync: redis connected/g;
is(scalar @connected, 3, 'and the connection was made again each time');
unlike($log, qr/\[(alert|crit|emerg)\]/, 'no alert in the error log');
ok($n->{quit}->(), 'nginx exited within 5 s of quit');

done_testing();
