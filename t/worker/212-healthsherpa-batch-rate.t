# A batch of thousands at the configured rate (issue 6, point 4): 2000
# contacts, healthsherpa.rps = 400 and max_concurrency = 8; every item
# ends, HealthSherpa never sees more than the caps allow, and the run
# takes about as long as the rate says.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Caresync::Worker;

my $N = 2000;
my $RPS = 400;
my $env = start_env();
my @ids = @{ fake_post('/__fake/salesforce/contacts', [
    map { { FirstName => 'P', LastName => "R$_", Email => "r$_\@example.org" } }
    1 .. $N ]) };
open my $fh, '>', "$env->{dir}/big.csv" or die;
print $fh "\xEF\xBB\xBF\"Contact ID\"\r\n", map { "\"$_\"\r\n" } @ids;
print $fh "\r\n\"Grand Totals ($N records)\"\r\n";
close $fh;

my $conf = write_config('healthsherpa.rps' => $RPS,
                        'healthsherpa.max_concurrency' => 8,
                        'worker.concurrency' => 64,
                        'worker.log_level' => 'error');
my $t0 = time;
my ($rc, $out, $err) = worker_cmd($conf, 'batch', 'healthsherpa', '--csv',
                                  "$env->{dir}/big.csv");
is($rc, 0, "batch of $N queued") or diag $err;
my ($id) = $out =~ /^batch (\S+) queued: $N contacts/m;
ok($id, '... every id') or diag $out;
ok(time - $t0 < 10, sprintf('... in %.2f s', time - $t0));

my $pid = start_worker($conf);
my $b;
wait_for(sub { $b = { @{ redis()->cmd('HGETALL', "{caresync}:batch:$id") } };
               $b->{pending} == 0 }, 60);
is($b->{pending}, 0, 'every item ended');
is($b->{no_match}, $N, "$N no_match");

my $req = fake_get('/__fake/requests?app=healthsherpa');
is(scalar @$req, $N, 'one search per contact');
my $secs = $req->[-1]{t} - $req->[0]{t};
# a token bucket allows one second's burst; 5 % for clock skew between
# the worker and the fake's timestamps
cmp_ok(scalar @$req, '<=', 1.05 * $RPS * ($secs + 1),
       sprintf('rate: %d searches in %.2f s (cap %d/s)', scalar @$req,
               $secs, $RPS));
cmp_ok($secs, '>=', $N / $RPS - 1.5, '... so it took about N / rps');
# +1: the fake counts a request until its thread returns, a moment after
# the answer left, when the next one may already be in
cmp_ok(fake_get('/__fake/stats')->{max_inflight}{healthsherpa}, '<=', 9,
       'at most max_concurrency searches in flight');
is(stop_worker($pid), 0, 'worker stopped');
done_testing();
