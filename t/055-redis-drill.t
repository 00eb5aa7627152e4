# Drill: Redis stopped while clients post, then started again.
#
# Every answer must be 200 or 503 (never anything else), 200s must come
# back without reloading nginx, every 200 must have its job in the stream,
# and no 503 may have one.  A request whose reply died with the connection
# waits for Redis to come back (within the 3 s timeout) and asks again, so
# even those answers are true.  Redis runs with an append-only file synced on
# every write: a 200 means "in Redis", and only persistence carries that
# across a restart.

use strict;
use warnings;

BEGIN { $ENV{CARESYNC_REDIS_PERSIST} = 1 }

use Test::More;
use lib 't/lib';
use Caresync::Test;
use Caresync::Drill;

use Time::HiRes qw(sleep time);

my $n = nginx_start('servroot-redis-drill', redis => 'timeout=3s');
ok($n->{started}, 'nginx starts');
my $master = $n->{master};

my ($stopped_at, $started_at);

my $answered = load(
    url => $n->{url}, dir => $n->{root},
    clients => 8, seconds => 4, tag => 'r',
    during => sub {
        sleep 1;
        redis_stop();
        $stopped_at = time;
        sleep 1;
        redis_start();
        $started_at = time;
    });

my %status;
$status{$_}++ for values %$answered;

my ($queued, $doubled) = queued();

diag(sprintf "drill: %d requests, answers %s, %d jobs",
     scalar(keys %$answered),
     join(' ', map { "$_:$status{$_}" } sort keys %status),
     scalar(keys %$queued));

my @odd = grep { $_ != 200 && $_ != 503 } keys %status;
is("@odd", '', 'every answer is 200 or 503');
cmp_ok($status{503} // 0, '>', 0, 'Redis down was answered 503');

my @lost = grep { $answered->{$_} == 200 && !$queued->{$_} } keys %$answered;
is(scalar @lost, 0, 'every 200 has its job in the stream');

my @ghost = grep { $answered->{$_} == 503 && $queued->{$_} } keys %$answered;
is(scalar @ghost, 0, 'no 503 has a job');
is($doubled, 0, 'no delivery was queued twice');

# 200s came back after the restart, without a reload: the clients number
# their requests, so a 200 later than any 503 of the same client shows it

my $resumed = resumed($answered);
cmp_ok($resumed, '>', 0, '200s resumed after Redis came back, no reload');

ok($n->{quit}->(), 'nginx exited within 5 s of quit');

my @alerts = $n->{alerts}->();
is(scalar @alerts, 0, 'no alert in the error log') or diag(@alerts[0 .. 4]);

done_testing();
