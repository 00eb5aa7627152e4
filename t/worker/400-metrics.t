# The worker's Prometheus metrics ([metrics] listen, engine/cw_metrics.h):
# a real scrape after jobs that succeed, retry on a 429 with Retry-After,
# and end as dead letters; labels from fixed sets only (no ids, no PHI);
# GET /metrics only, bounded requests, idle connections that hold no job
# up; two workers on one host on two ports, and the same port refused;
# a non-loopback address refused unless allowed.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep);
use JSON::PP;
use Caresync::Worker;

my $env = start_env();
my $mport = Caresync::Worker::free_port();
my $conf = write_config('metrics.listen' => "127.0.0.1:$mport",
                        'worker.max_attempts' => 2,
                        'worker.backoff_base_ms' => 100,
                        'worker.backoff_max_ms' => 200);

sub scrape {
    my ($port) = @_;
    my $res = HTTP::Tiny->new(timeout => 5)
        ->get("http://127.0.0.1:$port/metrics");
    return $res;
}

# value of one sample, e.g. sample($text, 'x_total{a="b"}')
sub sample {
    my ($text, $series) = @_;
    return $text =~ /^\Q$series\E (\S+)$/m ? $1 : undef;
}

my %c;
for my $k (qw(ok ra dead)) {
    ($c{$k}) = @{ fake_post('/__fake/salesforce/contacts',
                            [{ LastName => "Metric$k",
                               FirstName => 'Maria',
                               HelpAround_Patient_Id__c => "ha-m$k" }]) };
}
fake_post('/__fake/inject', [
    { app => 'salesforce', path => '/query.*ha-mra\b', times => 1,
      status => 429, json => [{ message => 'slow down',
                                errorCode => 'REQUEST_LIMIT_EXCEEDED' }],
      headers => { 'Retry-After' => '1' } },
    { app => 'salesforce', path => '/query.*ha-mdead\b', times => -1,
      status => 503, body => 'unavailable' },
]);

my ($pid, $log) = start_worker($conf);

# off by default: a worker without [metrics] listens nowhere
my $plain = write_config('worker.consumer' => 'plain');
like(scalar `grep -c metrics $plain`, qr/^0$/, 'the plain config has no metrics');

my $res;
ok(wait_for(sub { $res = scrape($mport); $res->{status} == 200 }, 10),
   'GET /metrics answers 200');
is($res->{headers}{'content-type'}, 'text/plain; version=0.0.4',
   '... in the text format');
like($res->{content}, qr/^caresync_worker_jobs_in_flight 0$/m,
     '... before any job: nothing in flight');
like($res->{content}, qr/^caresync_worker_stream_lag\{shard="0"\} 0$/m,
     '... the stream\'s lag, shard 0');
like($res->{content}, qr/^caresync_worker_redis_up 1$/m, '... Redis up');

my %job = map { $_ => seed_job(user_action_job(source_id => "ha-m$_")) }
          qw(ok ra dead);
is(wait_status($job{ok}, 'updated')->{status}, 'updated', 'a job updated');
is(wait_status($job{ra}, 'updated', 20)->{status}, 'updated',
   'the throttled one, after its Retry-After');
is(wait_status($job{dead}, 'failed', 20)->{status}, 'failed',
   'the always-503 one: failed');

# the gauges are read at most once a second
sleep 1.1;
$res = scrape($mport);
my $m = $res->{content};
my $t = 'helparound.user_action';
is(sample($m, qq{caresync_worker_jobs_total{type="$t",status="updated"}}),
   2, 'jobs_total by type and status: 2 updated');
is(sample($m, qq{caresync_worker_jobs_total{type="$t",status="failed"}}),
   1, '... 1 failed');
is(sample($m, qq{caresync_worker_attempts_total{type="$t"}}), 5,
   'attempts: 1 + 2 + 2');
is(sample($m, qq{caresync_worker_retries_total{type="$t"}}), 2,
   'retries: the 429 and the first 503');
is(sample($m, qq{caresync_worker_dead_letters_total{type="$t"}}), 1,
   'dead letters: 1');
is(sample($m, qq{caresync_worker_job_duration_seconds_count{type="$t"}}), 3,
   'job duration histogram: one observation per finished job');
like($m, qr/^caresync_worker_job_duration_seconds_bucket\{type="\Q$t\E",le="\+Inf"\} 3$/m,
     '... +Inf bucket');
ok(sample($m, 'caresync_worker_vendor_requests_total{vendor="salesforce",class="2xx"}') >= 4,
   'vendor requests by class: 2xx');
is(sample($m, 'caresync_worker_vendor_requests_total{vendor="salesforce",class="5xx"}'), 2,
   '... 5xx: the two 503s');
is(sample($m, 'caresync_worker_vendor_requests_total{vendor="salesforce",class="4xx"}'), 1,
   '... 4xx: the 429');
is(sample($m, 'caresync_worker_vendor_throttled_total{vendor="salesforce"}'), 1,
   '429s counted');
is(sample($m, 'caresync_worker_vendor_retry_after_total{vendor="salesforce"}'), 1,
   'Retry-After answers counted');
is(sample($m, 'caresync_worker_vendor_retry_after_seconds_total{vendor="salesforce"}'),
   '1.000', '... and the wait they asked for');
ok(sample($m, 'caresync_worker_vendor_request_duration_seconds_count{vendor="salesforce"}') >= 7,
   'latency histogram of every request');
is(sample($m, 'caresync_worker_oauth_refreshes_total{vendor="salesforce",result="ok"}'), 1,
   'one OAuth token fetch');
is(sample($m, 'caresync_worker_dead_letter_queue_length'), 1,
   'the dead-letter queue\'s length');
is(sample($m, 'caresync_worker_retry_set_size'), 0, 'the retry set, empty');
is(sample($m, 'caresync_worker_stream_pending{shard="0"}'), 0,
   'nothing pending');

# labels: only our words; no job id, no contact id, no name
my %allowed = map { $_ => 1 } qw(matched no_match created updated linked
    unlinked skipped failed other unknown 2xx 3xx 4xx 5xx error ok exported
    dropped salesforce 0 +Inf);
my @bad;
for my $line (grep { !/^#/ } split /\n/, $m) {
    while ($line =~ /(\w+)="([^"]*)"/g) {
        my ($k, $v) = ($1, $2);
        next if $k eq 'le' && $v =~ /^[0-9.]+$/;
        next if $k eq 'type' && $v =~ /^[a-z_]+\.[a-z_]+$/;
        push @bad, "$k=$v" unless $allowed{$v};
    }
}
is("@bad", '', 'every label value is one of a fixed set');
my $ids = join '|', map { quotemeta } values(%job), values(%c), 'ha-m';
unlike($m, qr/$ids/, 'no job id, contact id or patient id in the scrape');
unlike($m, qr/Maria|Metric/, 'no name in the scrape');

# the responder: GET /metrics only, bounded
is(HTTP::Tiny->new->get("http://127.0.0.1:$mport/other")->{status}, 404,
   'another path: 404');
my $post = HTTP::Tiny->new->post("http://127.0.0.1:$mport/metrics");
is($post->{status}, 405, 'POST: 405');
is($post->{headers}{allow}, 'GET, HEAD', '... saying what is allowed');
my $head = HTTP::Tiny->new->head("http://127.0.0.1:$mport/metrics");
is($head->{status}, 200, 'HEAD: 200');
is($head->{content} // '', '', '... without a body');
ok($head->{headers}{'content-length'} > 100, '... its length that of the GET');
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $mport)
    or die;
print $s 'GET /metrics HTTP/1.1' . "\r\nX: " . ('a' x 5000);
my $answer = '';
wait_for(sub { my $b; my $n = sysread($s, $b, 4096); $answer .= $b if $n;
               $answer =~ /\r\n\r\n/ }, 5);
like($answer, qr{^HTTP/1.1 431 }, 'a request over 2 KiB: 431');
close $s;

# idle connections fill every slot: jobs still run, and the slots come
# back after their 2 s
my @idle = map { IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                       PeerPort => $mport) } 1 .. 6;
is(scalar(grep { defined } @idle), 6, 'six idle connections open');
my $more = seed_job(user_action_job(source_id => 'ha-mok',
                                     at => '2026-11-21T11:00:00.000Z'));
is(wait_status($more, 'updated', 5)->{status}, 'updated',
   'a job runs while every metrics slot is held');
sleep 2.5;
ok(wait_for(sub { scrape($mport)->{status} == 200 }, 10),
   'the idle connections timed out: scrapes work again');
close $_ for @idle;

# two workers on one host: two ports, two scrapes
my $mport2 = Caresync::Worker::free_port();
my $conf2 = write_config('metrics.listen' => "127.0.0.1:$mport2",
                         'worker.consumer' => 'second');
my ($pid2, $log2) = start_worker($conf2, 'second');
my $r2;
ok(wait_for(sub { $r2 = scrape($mport2); $r2->{status} == 200 }, 10),
   'a second worker serves its own port');
like($r2->{content}, qr/^caresync_worker_jobs_in_flight 0$/m,
     '... with its own figures');
unlike($r2->{content}, qr/caresync_worker_jobs_total\{/,
       '... none of the first worker\'s counters');
is(scrape($mport)->{status}, 200, 'the first still serves its own');

# the same port twice: the second worker refuses to start
my $conf3 = write_config('metrics.listen' => "127.0.0.1:$mport",
                         'worker.consumer' => 'third');
my ($pid3, $log3) = start_worker($conf3, 'third');
my $exited = wait_for(sub { waitpid($pid3, POSIX::WNOHANG()) == $pid3 }, 10);
ok($exited && $? != 0, 'a worker on a port already taken exits non-zero');
stop_worker($pid3, 'TERM', 1) unless $exited;
like(do { local (@ARGV, $/) = $log3; <> }, qr/metrics\.listen 127\.0\.0\.1:$mport: Address already in use/,
     '... saying which address and why');

# configuration
my ($rc, $out, $err) = worker_cmd(write_config('metrics.listen' => '0.0.0.0:9187'),
                                  'check');
is($rc, 1, 'a non-loopback metrics address is refused');
like($err, qr/metrics\.listen 0\.0\.0\.0 is not a loopback address: set metrics\.allow_remote = on/,
     '... saying how to allow it');
($rc, $out, $err) = worker_cmd(write_config('metrics.listen' => '9187'), 'check');
is($rc, 1, 'an address without a port is refused');
($rc, $out, $err) = worker_cmd(write_config('metrics.listen' => '0.0.0.0:9187',
                                            'metrics.allow_remote' => 'on'),
                               'check');
unlike($err, qr/metrics\./, '... allowed with metrics.allow_remote = on');

# batch progress: per status, never per batch
seed_report_export();
my (undef, $bout) = worker_cmd($conf, 'batch', 'healthsherpa', '--csv',
    fixture_path('salesforce/report-export.csv'));
my ($batch) = $bout =~ /^batch (\S+) queued/m;
ok($batch, 'a batch of the report export queued');
# two workers run now: the items are in one or the other's counters
sub both {
    my ($series) = @_;
    my $n = 0;
    $n += sample(scrape($_)->{content} // '', $series) // 0 for $mport, $mport2;
    return $n;
}
ok(wait_for(sub { both('caresync_worker_batch_items_total{status="matched"}')
                  + both('caresync_worker_batch_items_total{status="no_match"}') == 2 }, 20),
   'batch items counted by status, over both workers');
is(both('caresync_worker_batch_items_total{status="matched"}'), 1,
   '... one matched');
my $bm = scrape($mport)->{content} . scrape($mport2)->{content};
unlike($bm, qr/\Q$batch\E|003Hs|John|Lopez/, '... no batch id, contact id or name');

# Redis lost: the scrape still answers, and says so
kill_redis();
ok(wait_for(sub { (scrape($mport)->{content} // '') =~ /^caresync_worker_redis_up 0$/m }, 10),
   'Redis down: caresync_worker_redis_up 0');
unlike(scrape($mport)->{content}, qr/caresync_worker_stream_lag/,
       '... and no stale queue figures');
restart_redis();
ok(wait_for(sub { (scrape($mport)->{content} // '') =~ /^caresync_worker_redis_up 1$/m }, 15),
   'Redis back: caresync_worker_redis_up 1');

is(stop_worker($pid2), 0, 'the second worker stops cleanly');
is(stop_worker($pid), 0, 'the first worker stops cleanly');
done_testing();
