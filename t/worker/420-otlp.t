# OTLP/HTTP export of the jobs' spans ([tracing] otlp_endpoint) to a
# stand-in collector (t/fakes/otlp_stub.py) that checks what arrives: an
# attempt span under the edge's span, a client span per vendor call under
# it, with the ids the vendor saw in `traceparent`.  The export is bounded
# and never holds a job up: a collector that hangs or fails costs spans,
# counted, not jobs.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Caresync::Worker;

my $env = start_env();
my $stub = start_otlp_stub();
my $J = JSON::PP->new->canonical->utf8;
my $http = HTTP::Tiny->new(timeout => 10);

sub received { $J->decode($http->get("$stub/__stub/received")->{content}) }
sub stub_mode { $http->post("$stub/__stub/mode",
                            { content => $J->encode({ @_ }) }) }

my $TRACE = '0af7651916cd43dd8448eb211c80319c';
my $EDGE = 'b7ad6b7169203331';
my $mport = Caresync::Worker::free_port();
my $conf = write_config('tracing.otlp_endpoint' => "$stub/v1/traces",
                        'tracing.otlp_timeout_ms' => 500,
                        'metrics.listen' => "127.0.0.1:$mport");

fake_post('/__fake/salesforce/contacts',
          [{ LastName => 'Otlp', FirstName => 'Maria',
             HelpAround_Patient_Id__c => 'ha-ot1' }]);
my $job = user_action_job(source_id => 'ha-ot1');
$job->{traceparent} = "00-$TRACE-$EDGE-01";
seed_job($job);

my ($pid, $log) = start_worker($conf);
is(wait_status($job->{id}, [qw(updated failed)])->{status}, 'updated',
   'the job updated its contact');

my @spans;
ok(wait_for(sub { @spans = grep { $_->{traceId} eq $TRACE }
                            map { @{ $_->{spans} } } @{ received() };
                  @spans >= 3 }, 10),
   'the collector received the job\'s spans');
my @bad = map { @{ $_->{problems} } } @{ received() };
is("@bad", '', '... in well-formed OTLP/HTTP JSON');
is(received()->[0]{content_type}, 'application/json', '... as JSON');
ok(!defined received()->[0]{traceparent},
   '... the export itself is in no trace');

my ($attempt) = grep { $_->{kind} == 5 } @spans;
ok($attempt, 'an attempt span (consumer)');
is($attempt->{parentSpanId}, $EDGE, '... whose parent is the edge\'s span');
my %attr = map { $_->{key} => $_->{value}{stringValue} }
           @{ $attempt->{attributes} };
is($attr{'caresync.job.id'}, $job->{id}, '... naming the job');
is($attr{'caresync.job.status'}, 'updated', '... and its outcome');

my @calls = grep { $_->{kind} == 3 } @spans;
ok(@calls >= 2, 'client spans for the vendor calls');
is(scalar(grep { $_->{parentSpanId} eq $attempt->{spanId} } @calls),
   scalar(@calls), '... each a child of the attempt');
my %sent = map { /^00-$TRACE-([0-9a-f]{16})-01$/ ? ($1 => 1) : () }
           map { @{ $_->{traceparent} // [] } }
           @{ fake_get('/__fake/requests?app=salesforce') };
my @unseen = grep { !$sent{$_->{spanId}} } @calls;
is(scalar(@unseen), 0, '... with the span ids Salesforce saw in traceparent');
like(join(' ', map { $_->{name} } @calls),
     qr{PATCH 127\.0\.0\.1:\d+/services/data/v[\d.]+/sobjects/Contact/\{id\}},
     '... named by method and URL template');
my $all = $J->encode(received());
unlike($all, qr/Maria|Otlp|ha-ot1/, 'no name or patient id in the spans');

# a collector that hangs: jobs still finish; the export times out, counted
stub_mode(delay_ms => 3000, status => 200);
my @more;
for my $i (1 .. 3) {
    fake_post('/__fake/salesforce/contacts',
              [{ LastName => "Slow$i", HelpAround_Patient_Id__c => "ha-os$i" }]);
    push @more, seed_job(user_action_job(source_id => "ha-os$i"));
}
is(scalar(grep { (wait_status($_, [qw(updated failed)])->{status} // '')
                 eq 'updated' } @more), 3,
   'a hanging collector holds no job up');

sub metric {
    my ($series) = @_;
    my $m = $http->get("http://127.0.0.1:$mport/metrics")->{content} // '';
    return $m =~ /^\Q$series\E (\d+)$/m ? $1 : 0;
}
ok(wait_for(sub { metric('caresync_worker_otlp_spans_total{result="failed"}') > 0 }, 15),
   '... its export timed out, counted as failed');
ok(metric('caresync_worker_otlp_spans_total{result="exported"}') >= 3,
   'the first export was counted as exported');

# a collector that fails: logged once, never retried
stub_mode(delay_ms => 0, status => 503);
my $n0 = scalar @{ received() };
push @more, seed_job(user_action_job(source_id => 'ha-os1',
                                     at => '2026-11-21T12:00:00.000Z'));
wait_status($more[-1], [qw(updated skipped failed)]);
ok(wait_for(sub { scalar(@{ received() }) > $n0 }, 10), 'the next export arrived');
sleep 1.5;
my $text = do { local (@ARGV, $/) = $log; <> };
like($text, qr/error trace OTLP export failed, spans dropped/,
     'a failed export is logged');
unlike($text, qr/error trace OTLP export failed.*\n(?s:.*)error trace OTLP export failed/,
       '... once, not per export');

is(stop_worker($pid), 0, 'the worker stops cleanly');

# bounded: a buffer of 16 spans, a collector that never answers in time
stub_mode(delay_ms => 5000, status => 200);
my $mport2 = Caresync::Worker::free_port();
my $small = write_config('tracing.otlp_endpoint' => "$stub/v1/traces",
                         'tracing.otlp_timeout_ms' => 4000,
                         'tracing.otlp_max_spans' => 16,
                         'worker.consumer' => 'small',
                         'metrics.listen' => "127.0.0.1:$mport2");
my @many;
for my $i (1 .. 12) {
    fake_post('/__fake/salesforce/contacts',
              [{ LastName => "Many$i", HelpAround_Patient_Id__c => "ha-om$i" }]);
}
($pid, $log) = start_worker($small, 'small');
# one job first: its spans go out and hold the one export slot
push @many, seed_job(user_action_job(source_id => 'ha-om1'));
wait_status($many[0], [qw(updated failed)]);
sleep 1.5;
push @many, seed_job(user_action_job(source_id => "ha-om$_")) for 2 .. 12;
is(scalar(grep { (wait_status($_, [qw(updated failed)])->{status} // '')
                 eq 'updated' } @many), 12, 'twelve jobs done');
$mport = $mport2;
ok(metric('caresync_worker_otlp_spans_total{result="dropped"}') > 0,
   'spans over tracing.otlp_max_spans were dropped, and counted');

my ($rc, $out, $err) = worker_cmd(write_config('tracing.otlp_endpoint' => 'collector:4318'),
                                  'check');
is($rc, 1, 'an OTLP endpoint that is not a URL is refused');
like($err, qr/tracing\.otlp_endpoint must be an http:\/\/ or https:\/\/ URL/,
     '... saying so');

is(stop_worker($pid, 'TERM', 15), 0, 'the worker stops cleanly');
done_testing();
