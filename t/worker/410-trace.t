# One trace from the webhook to the CRM write (engine/cw_trace.h): the
# seed's enrollment posted to nginx with a `traceparent`, the job keeps
# the trace, every vendor request the worker makes carries it with a span
# of its own, every log line about the job and the status record name it,
# and `jobs show` prints the job's timeline without PHI.  A job queued
# with an invalid traceparent gets a new trace; a retried one shows both
# attempts.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Caresync::Worker;
use Caresync::Enrollment;

my $env = start_env();
my $port = start_nginx(
    'location = /webhook/user-enrollment '
    . '{ caresync_webhook helparound_enrollment; caresync_auth off; }');
plan skip_all => 'nginx or the module is not built (make module)'
    unless $port;

my $fixture = fixture_text('helparound/enrollment.json');
my $J = JSON::PP->new->canonical->utf8;
my $PHI = qr/John|Doe|test\@gmail|2027953213|12345|ds43|2021-03-01/;

my $TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
my $SENDER_SPAN = '00f067aa0ba902b7';
my $res = HTTP::Tiny->new(timeout => 10)->post(
    "http://127.0.0.1:$port/webhook/user-enrollment",
    { content => $fixture,
      headers => { 'Content-Type' => 'application/json',
                   traceparent => "00-$TRACE-$SENDER_SPAN-01" } });
is($res->{status}, 200, 'nginx accepted the enrollment');

my $e;
wait_for(sub { $e = redis()->cmd('XREVRANGE', '{caresync}:jobs', '+', '-',
                                 'COUNT', 1); ref $e eq 'ARRAY' && @$e })
    or die 'no job in the stream';
my $job = $J->decode({ @{ $e->[0][1] } }->{job});
like($job->{traceparent}, qr/^00-$TRACE-([0-9a-f]{16})-01$/,
     'the job carries the trace, with the edge\'s span');
my ($edge_span) = $job->{traceparent} =~ /-([0-9a-f]{16})-01$/;
isnt($edge_span, $SENDER_SPAN, '... not the sender\'s span');

my $mport = Caresync::Worker::free_port();
my $conf = write_config(
    'helparound.media_url_template' => "$env->{fake}/helparound/media/{id}",
    'helparound.api_key' => 'fake-ha-key',
    'metrics.listen' => "127.0.0.1:$mport");
my ($pid, $log) = start_worker($conf);
my $st = wait_status($job->{id}, [qw(created updated skipped failed)]);
is($st->{status}, 'created', 'the enrollment created its contact');
is($st->{trace_id}, $TRACE, 'the status record names the trace');

# every request the fakes received for this job carries the trace
my $reqs = fake_get('/__fake/requests');
my @app = grep { $_->{app} =~ /^(salesforce|helparound)$/ } @$reqs;
ok(scalar(@app) >= 3, 'the job made requests to Salesforce and HelpAround')
    or diag scalar @app;
my (%spans, @bad);
for my $r (@app) {
    my $tp = $r->{traceparent} // [];
    if (@$tp != 1 || $tp->[0] !~ /^00-$TRACE-([0-9a-f]{16})-01$/) {
        push @bad, "$r->{method} $r->{path}: @$tp";
        next;
    }
    $spans{$1}++;
}
is("@bad", '', 'every vendor request carries exactly one traceparent '
              . 'of the job\'s trace');
is(scalar(keys %spans), scalar(@app) - @bad, '... each with a span of its own');
ok(!$spans{$edge_span} && !$spans{$SENDER_SPAN} && !$spans{'0' x 16},
   '... none the edge\'s, the sender\'s or zeros');

# log lines about the job name the trace: first prove there are some
my $text = do { local (@ARGV, $/) = $log; <> };
my @lines = grep { /job_id=\Q$job->{id}\E\b/ } split /\n/, $text;
ok(scalar(@lines) >= 2, 'the worker logged lines about the job');
my @untraced = grep { !/ trace_id=$TRACE$/ } @lines;
is(scalar(@untraced), 0, '... each ends with its trace id')
    or diag join "\n", @untraced;
my ($rc, $logout) = worker_cmd($conf, 'log');
like($logout, qr/job_id=\Q$job->{id}\E\b.* trace_id=$TRACE/,
     'the log stream has it too');

# jobs show: the timeline
my ($src, $out, $err) = worker_cmd($conf, 'jobs', 'show', $job->{id});
is($src, 0, 'jobs show exits 0');
like($out, qr/^trace_id: $TRACE$/m, '... prints the trace id');
like($out, qr/^timeline:$/m, '... and a timeline:');
like($out, qr/^  \d{4}-\d\d-\d\dT[\d:.]+Z  received by the edge$/m,
     '... received');
like($out, qr/^  \S+  queued$/m, '... queued');
like($out, qr/^  \S+  attempt 1 started$/m, '... attempt 1 started');
like($out, qr{^  \S+    PATCH 127\.0\.0\.1:\d+/services/data/v[\d.]+/sobjects/Contact/HelpAround_Patient_Id__c/\{id\} -> 20\d \(\d+ ms\)$}m,
     '... the upsert, its id templated, status and duration');
like($out, qr{^  \S+    GET 127\.0\.0\.1:\d+/helparound/media/\{id\} -> 200 }m,
     '... the media download');
like($out, qr/^  \S+  attempt 1 ended: created$/m, '... the final status');
unlike($out, qr/\?|ha61236024160af|7b20a933/, '... no query string, no id');
unlike($out, $PHI, '... no PHI');
my $tl = redis()->cmd('TTL', "{caresync}:timeline:$job->{id}");
ok($tl > 0, 'the timeline expires like the status record');

# the scrape has no PHI either
my $m = HTTP::Tiny->new->get("http://127.0.0.1:$mport/metrics")->{content};
like($m, qr/caresync_worker_jobs_total\{type="helparound.enrollment",status="created"\} 1/,
     'the scrape counts the job');
unlike($m, $PHI, '... and holds no PHI');
unlike($m, qr/$TRACE|\Q$job->{id}\E/, '... nor a trace or job id');

# a job queued with an invalid traceparent: a new trace
my $bad = user_action_job(source_id => 'ha-tr');
$bad->{traceparent} = "00-" . uc($TRACE) . "-$SENDER_SPAN-01";
my ($c) = @{ fake_post('/__fake/salesforce/contacts',
                       [{ LastName => 'Trace', HelpAround_Patient_Id__c => 'ha-tr' }]) };
seed_job($bad);
$st = wait_status($bad->{id}, [qw(updated failed)]);
like($st->{trace_id} // '', qr/^(?!$TRACE)(?!0{32})[0-9a-f]{32}$/,
     'an invalid traceparent: a new trace in the record');
my $q = sf_requests(method => 'GET', path => qr{/query$});
my ($last) = grep { $_->{query} =~ /ha-tr\b/ } @$q;
like($last->{traceparent}[0] // '', qr/^00-$st->{trace_id}-[0-9a-f]{16}-01$/,
     '... which its requests carry');

# a retried job: two attempts, each with its calls
fake_post('/__fake/inject', [
    { app => 'salesforce', path => '/query.*ha-tr2\b', times => 1,
      status => 503, body => 'busy' }]);
fake_post('/__fake/salesforce/contacts',
          [{ LastName => 'Trace2', HelpAround_Patient_Id__c => 'ha-tr2' }]);
my $re = seed_job(user_action_job(source_id => 'ha-tr2'));
$st = wait_status($re, [qw(updated failed)], 20);
is($st->{status}, 'updated', 'a job retried once, then updated');
($src, $out) = worker_cmd($conf, 'jobs', 'show', $re);
like($out, qr{attempt 1 started\n.*GET 127\.0\.0\.1:\d+/services/data/v[\d.]+/query -> 503 .*\n.*attempt 1 ended: retrying \(http_status, HTTP 503\)\n.*queued again\n.*attempt 2 started\n}s,
     'the timeline: attempt 1 with its 503, queued again, attempt 2');
like($out, qr/attempt 2 ended: updated/, '... and the final status');
my @rl = grep { /job_id=\Q$re\E\b/ }
         split /\n/, do { local (@ARGV, $/) = $log; <> };
ok(scalar(@rl) >= 3, 'the retried job logged lines on both attempts');
my %tr = map { / trace_id=([0-9a-f]{32})$/ ? ($1 => 1) : ('none' => 1) } @rl;
is(join(',', keys %tr), $st->{trace_id},
   '... a job queued without a trace keeps one trace over its attempts');

is(stop_worker($pid), 0, 'the worker stops cleanly');
# the timeline is bounded: the last 32 attempts of a job that has more
my $many = write_config('worker.max_attempts' => 40,
                        'worker.backoff_base_ms' => 1,
                        'worker.backoff_max_ms' => 2,
                        'worker.consumer' => 'many');
fake_post('/__fake/inject', [
    { app => 'salesforce', path => '/query.*ha-tr40\b', times => -1,
      status => 503, body => 'busy' }]);
my $forty = seed_job(user_action_job(source_id => 'ha-tr40'));
my ($pid40) = start_worker($many, 'many');
is(wait_status($forty, 'failed', 60)->{attempts}, 40, 'a job failed after 40 attempts');
my $entries = redis()->cmd('LRANGE', "{caresync}:timeline:$forty", 0, -1);
is(scalar @$entries, 32, '... its timeline keeps 32 of them');
is($J->decode($entries->[0])->{attempt}, 9, '... the oldest dropped first');
is($J->decode($entries->[-1])->{status}, 'failed', '... the last one, the final status');
is(stop_worker($pid40), 0, 'that worker stops cleanly');

no_phi_in_log(name => 'traced log lines',
              files => [$log], stream => $conf, jobs => [ $job->{id} ],
              pattern => qr/John|Doe|test\@gmail|2027953213|ds43/);
done_testing();
