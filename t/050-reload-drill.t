# Drill: `nginx -s reload` twice and then `nginx -s quit` while clients post
# distinct enrollments.  A 200 must always mean the job is in the stream,
# no job may be queued twice, and old workers must exit promptly.
#
# A plain Test::More file: it needs a real master process with several
# workers, which Test::Nginx's per-block model does not give.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Caresync::Test;
use Caresync::Drill;

use Time::HiRes qw(sleep time);

my $clients = 8;
my $seconds = 3;

my $n = nginx_start('servroot-drill');
ok($n->{started}, 'nginx starts');
my $master = $n->{master};

my $answered = load(
    url => $n->{url}, dir => $n->{root},
    clients => $clients, seconds => $seconds,
    during => sub {
        sleep 0.8;
        is($n->{cmd}->('-s', 'reload'), 0, 'first reload mid-load');
        sleep 0.8;
        is($n->{cmd}->('-s', 'reload'), 0, 'second reload mid-load');
    });

my %answered = %$answered;
my %status;
$status{$_}++ for values %answered;

my ($queued, $dup) = queued();
my %queued = %$queued;

my @lost = grep { $answered{$_} == 200 && !$queued{$_} } keys %answered;
my $ok = $status{200} // 0;

diag(sprintf "drill: %d requests, answers %s, %d jobs",
     scalar(keys %answered),
     join(' ', map { "$_:$status{$_}" } sort keys %status),
     scalar(keys %queued));

cmp_ok($ok, '>', 100, 'the load went through');
is(scalar @lost, 0, 'every 200 has its job in the stream');
is($dup, 0, 'no delivery was queued twice');

# 599 is HTTP::Tiny's "no answer": a keep-alive connection closed by an
# old worker as the request left; never a wrong answer.
my @odd = grep { $_ != 200 && $_ != 503 && $_ != 599 } keys %status;
is("@odd", '', 'answers are 200, or 503 when Redis was not reachable');

my @unanswered = grep { $answered{$_} != 200 && $queued{$_} } keys %answered;
cmp_ok(scalar @unanswered, '<=', $status{599} // 0,
       'jobs without a 200 are only those whose answer was lost');

# After the reloads, only the new generation of workers remains.

sub workers {
    my @w = grep { /nginx: worker process/ } `ps -o pid=,args= --ppid $master`;
    return scalar @w;
}

my $until = time + 5;
sleep 0.1 while workers() != 2 && time < $until;
is(workers(), 2, 'old workers exited within 5 s of the reload');

ok($n->{quit}->(), 'nginx exited within 5 s of quit');

my @alerts = $n->{alerts}->();
is(scalar @alerts, 0, 'no alert in the error log') or diag(@alerts[0 .. 4]);

done_testing();
