# redis.replicas = N: each job's end (status, ack, retry or dead letter,
# one MULTI) is followed by WAIT N.  Against a real primary and replica:
# with N = 1 every job's end is confirmed (the WAITs are counted by the
# primary, nothing is logged); with N = 2 (one replica only) each WAIT
# falls short, which is logged with the job's id and counted, and the job
# still ends (its end is on the primary).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Caresync::Worker;
use Caresync::RedisTopology;

my $env = start_env();
my $set = start_replicated(dir => $env->{dir}, replicas => 1);
my ($primary, $replica) = ($set->{primary}, $set->{replicas}[0]);
redis_at($primary->{port});

fake_post('/__fake/salesforce/contacts', [
    map { { LastName => "W$_", HelpAround_Patient_Id__c => "ha-wait$_" } }
    1 .. 8 ]);

sub waits {
    my ($s) = rcli($primary, 'INFO', 'commandstats') =~ /cmdstat_wait:calls=(\d+)/;
    return $s // 0;
}
my $log_of = sub { local $/; open my $fh, '<', $_[0] or return ''; <$fh> };

# N = 1: confirmed
my $conf = write_config('redis.port' => $primary->{port},
                        'redis.replicas' => 1, 'redis.timeout_ms' => 1000);
my ($pid, $log) = start_worker($conf, 'replicas1');
my @jobs = map { seed_job(user_action_job(source_id => "ha-wait$_")) } 1 .. 4;
is(scalar(grep { (wait_status($_, [qw(updated failed)])->{status} // '')
                 eq 'updated' } @jobs), 4, 'replicas = 1: jobs end');
cmp_ok(waits(), '>=', 4, 'a WAIT after each job\'s end (the primary counted '
       . waits() . ')');
is(stop_worker($pid, 'TERM'), 0, 'clean exit');
my $text = $log_of->($log);
like($text, qr/job done job_id=\Q$jobs[0]\E/, 'the log has the jobs\' lines');
unlike($text, qr/replicas confirmed=/, 'every end confirmed: no shortfall');
like($text, qr/redis_wait_shortfalls=0 /, '... none counted');
# the replica has them (what WAIT confirmed)
my $r = Caresync::Worker::Redis->new($replica->{port});
is({ @{ $r->cmd('HGETALL', "{caresync}:job:$jobs[-1]") } }->{status},
   'updated', 'the replica has the last job\'s end');

# N = 2 with one replica: every WAIT falls short, after at most half the
# command timeout; logged with the job's id, counted, the job ends all the same
my $short = write_config('redis.port' => $primary->{port},
                         'redis.replicas' => 2, 'redis.timeout_ms' => 400);
($pid, $log) = start_worker($short, 'replicas2');
my @more = map { seed_job(user_action_job(source_id => "ha-wait$_")) } 5 .. 6;
is(scalar(grep { (wait_status($_, [qw(updated failed)])->{status} // '')
                 eq 'updated' } @more), 2, 'replicas = 2, one replica: jobs '
   . 'still end');
ok(wait_for(sub { $log_of->($log) =~ /replicas confirmed=1 wanted=2/ }, 10),
   'the shortfall is logged');
is(stop_worker($pid, 'TERM'), 0, 'clean exit');
$text = $log_of->($log);
my $ids = join '|', map { quotemeta } @more;
like($text, qr/error redis replicas confirmed=1 wanted=2 jobs=\d+ job_id=(?:$ids):/,
     '... with the job\'s id');
my ($n) = $text =~ /redis_wait_shortfalls=(\d+)/;
cmp_ok($n // 0, '>=', 2, "... and counted ($n)");

# configuration bound
my ($rc, $out, $err) = worker_cmd(write_config('redis.replicas' => 17),
                                  'check');
like("$out$err", qr/redis\.replicas must be an integer in 0\.\.16/,
     'replicas is bounded');

done_testing();
