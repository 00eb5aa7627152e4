# The HTTP layer's caps: many jobs in flight in one process, at most
# max_concurrency requests to a target at once, at most rps per second.
# And TLS: verification is on by default.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Caresync::Worker;

my $env = start_env(tls => 1);

sub seed_many {
    my ($tag, $n) = @_;
    fake_post('/__fake/salesforce/contacts', [
        map { { LastName => "L$_", HelpAround_Patient_Id__c => "ha-$tag$_" } }
        1 .. $n ]);
    return map { seed_job(user_action_job(source_id => "ha-$tag$_")) } 1 .. $n;
}

sub all_done {
    my @ids = @_;
    return wait_for(sub { !grep { (job_status($_)->{status} // '') ne 'updated' }
                          @ids }, 30);
}

# ---- many jobs in flight in one process ----
fake_post('/__fake/config', { latency_ms => 300 });
my @ids = seed_many('par', 16);
my $t0 = time;
my $pid = start_worker(write_config('worker.concurrency' => 16,
                                    'salesforce.max_concurrency' => 64));
ok(all_done(@ids), '16 jobs done');
my $wall = time - $t0;
my $max = fake_get('/__fake/stats')->{max_inflight}{salesforce};
ok($max >= 12, "requests in flight at once: $max (one process, one thread)");
ok($wall < 4, sprintf('16 jobs x 2 requests x 300 ms took %.1fs, not 9.6s', $wall));
stop_worker($pid, 'TERM');

# ---- per-target concurrency cap ----
fake_post('/__fake/reset');
fake_post('/__fake/config', { latency_ms => 100 });
@ids = seed_many('cap', 10);
$pid = start_worker(write_config('worker.concurrency' => 10,
                                 'salesforce.max_concurrency' => 2));
ok(all_done(@ids), '10 jobs done with max_concurrency = 2');
is(fake_get('/__fake/stats')->{max_inflight}{salesforce}, 2,
   'never more than 2 requests at once');
stop_worker($pid, 'TERM');

# ---- requests per second cap ----
fake_post('/__fake/reset');
fake_post('/__fake/config', { latency_ms => 0 });
@ids = seed_many('rps', 10);
$pid = start_worker(write_config('worker.concurrency' => 10,
                                 'salesforce.rps' => 10));
ok(all_done(@ids), '10 jobs done with rps = 10');
my @t = map { $_->{t} } @{ fake_get('/__fake/requests?app=salesforce') };
my $n = @t;                       # token + 10 queries + 10 patches
my $span = $t[-1] - $t[0];
# a bucket of 10 lets the first 10 go at once, then 10 per second
ok($span >= ($n - 10) / 10 * 0.8,
   sprintf('%d requests spread over %.2fs (>= %.2fs)', $n, $span,
           ($n - 10) / 10 * 0.8));
my $worst = 0;
for my $i (0 .. $#t) {
    my $k = grep { $_ >= $t[$i] && $_ < $t[$i] + 1 } @t;
    $worst = $k if $k > $worst;
}
ok($worst <= 21, "at most bucket + rate in any second ($worst)");
stop_worker($pid, 'TERM');

# ---- TLS verification is on by default ----
fake_post('/__fake/reset');
fake_post('/__fake/salesforce/contacts',
          [{ LastName => 'T', HelpAround_Patient_Id__c => 'ha-tls' }]);
my $tls = write_config('salesforce.login_url' => $env->{fake_tls});
my $job = seed_job(user_action_job(source_id => 'ha-tls'));
$pid = start_worker($tls);
my $st = wait_status($job, [qw(failed updated)]);
is($st->{status}, 'failed', 'self-signed certificate: failed');
is($st->{attempts}, 1, '... not retried (a setting to fix)');
like($st->{last_error}, qr/TLS certificate of 127.0.0.1:\d+ not trusted: check http.ca_file/,
     '... says what to fix');
is(scalar @{ fake_get('/__fake/requests?app=salesforce') }, 0,
   '... nothing was sent');
stop_worker($pid, 'TERM');

my $trusted = write_config('salesforce.login_url' => $env->{fake_tls},
                           'http.ca_file' => $env->{fake_ca});
($pid) = start_worker($trusted);
my ($rc, $out) = worker_cmd($trusted, 'dlq', 'replay', $job);
$st = wait_status($job, [qw(updated)]);
is($st->{status}, 'updated', 'with http.ca_file: verified and updated');
stop_worker($pid, 'TERM');

done_testing();
