# Drill: a Sentinel failover under load.
#
# Three real redis-sentinels watch a primary and its replica.  nginx asks
# them for the primary (caresync_redis_sentinel).  While clients post, the
# primary is killed; a sentinel promotes the replica.  Every answer must be
# 200 or 503, 200s must come back without a reload, and every 200's job
# must be on the new primary.  The time from the kill to the first 200
# again is reported.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Caresync::Test qw(fixture jobs_at);
use Caresync::Drill;
use Caresync::RedisTopology;

use File::Temp qw(tempdir);
use HTTP::Tiny;
use Time::HiRes qw(sleep time);

my $dir = tempdir('cs-sentinel-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# fail closed: the two directives go together, sentinels are addresses
for my $bad (['', qr/"caresync_redis sentinel" and "caresync_redis_sentinel" go together/],
             ['caresync_redis_sentinel sentinel.example:26379 master=m;',
              qr/"sentinel\.example:26379" is not an IP address and port/],
             ['caresync_redis_sentinel 127.0.0.1:26379;',
              qr/needs at least one sentinel and "master="/]) {
    my ($ok, $out) = nginx_check('servroot-sentinel-t', redis_at => 'sentinel',
                                 http => $bad->[0]);
    ok(!$ok, "nginx -t refuses: $bad->[0]");
    like($out, $bad->[1], '... and says why');
}

my $set = start_sentinel_set(dir => $dir, replicas => 1);
my $old = $set->{primary};

my $n = nginx_start('servroot-sentinel', redis_at => 'sentinel',
    redis => 'timeout=3s connect_timeout=500ms',
    http => "caresync_redis_sentinel $set->{sentinel_list} "
          . "master=$set->{master_name};");
ok($n->{started}, 'nginx starts with sentinels');

my $template = fixture('helparound/enrollment.json');
my $http = HTTP::Tiny->new(timeout => 5);
my %probe;
my $seq = 0;

sub post {
    my $id = sprintf 'hsp%011d', ++$seq;
    (my $body = $template) =~ s/ha61236024160af/$id/;
    my $s = $http->post($n->{url}, {
        headers => { 'Content-Type' => 'application/json' },
        content => $body })->{status};
    $probe{$id} = $s;
    return $s;
}

ok(topology_wait(sub { post() == 200 }, 10), 'a 200 through the sentinels');

my ($killed, $promoted, $resumed, $new);

my $answered = load(
    url => $n->{url}, dir => $n->{root},
    clients => 4, seconds => 8, tag => 's',
    during => sub {
        sleep 1;
        kill_node($old);
        $killed = time;
        # the first 200 after the kill, asked by the test itself
        topology_wait(sub { post() == 200 }, 30) and $resumed = time;
        $new = wait_sentinel_primary($set, $old->{port}, 30);
        $promoted = time;
    });

ok($new, 'a sentinel promoted the replica');

my %all = (%$answered, %probe);
my %status;
$status{$_}++ for values %all;
diag(sprintf 'sentinel drill: %d requests, answers %s; first 200 %.2f s '
           . 'after the primary was killed',
     scalar(keys %all), join(' ', map { "$_:$status{$_}" } sort keys %status),
     ($resumed // time) - $killed);

my @odd = grep { $_ != 200 && $_ != 503 } keys %status;
is("@odd", '', 'every answer is 200 or 503');
ok($resumed, '200s resumed after the failover, without a reload');
cmp_ok(($resumed // 1e9) - $killed, '<', 30, '... within 30 s');

my %on_new = map { ($_->{patient}{source_id} => 1) }
             $new ? jobs_at($new->{port}) : ();
my @lost = grep { $all{$_} == 200 && !$on_new{$_} } keys %all;
is(scalar @lost, 0, 'every 200 has its job on the new primary')
    or diag("lost: @lost[0 .. ($#lost < 9 ? $#lost : 9)]");
cmp_ok(scalar(grep { $_ == 200 } values %all), '>', 1, 'there were 200s');

# the load's own clients had 200s again after their 503s
my $after = resumed($answered);
cmp_ok($after, '>', 0, 'the load had 200s after its 503s');

my $log = $n->{log}->();
like($log, qr/caresync: redis connection lost|caresync: redis \S+ is no primary/,
     'the log has the loss');
unlike($log, qr/\[(alert|crit|emerg)\]/, 'no alert in the error log');
ok($n->{quit}->(), 'nginx exited within 5 s of quit');

done_testing();
