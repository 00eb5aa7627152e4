# redis.cluster = on against a real three-primary Redis Cluster made by
# the test (redis-server --cluster-enabled yes, redis-cli --cluster
# create).  The worker is given a node that does not serve the queue's
# slot: it learns the slot map and works on the primary that does.  Then
# the slot is resharded to another primary (its keys migrated one by one,
# under load): the worker follows MOVED / ASK by itself, and every job,
# queued before, during and after the move, ends; nothing is left pending.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep);
use Caresync::Worker;
use Caresync::RedisTopology;

my $env = start_env();
my $c = start_cluster(dir => $env->{dir}, primaries => 3);
my $slot = key_slot('{caresync}');
is(rcli($c->{nodes}[0], 'CLUSTER', 'KEYSLOT', '{caresync}:jobs'), $slot,
   "the test's slot function agrees with Redis ($slot)");
my $owner = cluster_slot_owner($c, $slot);
my ($seed) = grep { $_->{port} != $owner->{port} } @{ $c->{nodes} };
my ($next) = grep { $_->{port} != $owner->{port}
                    && $_->{port} != $seed->{port} } @{ $c->{nodes} };
redis_at($owner->{port});

my $N = 60;
fake_post('/__fake/config', { latency_ms => 20 });
fake_post('/__fake/salesforce/contacts', [
    map { { LastName => "C$_", HelpAround_Patient_Id__c => "ha-clu$_" } }
    1 .. $N ]);

my $conf = write_config('redis.port' => $seed->{port}, 'redis.cluster' => 'on',
                        'redis.timeout_ms' => 1000,
                        'worker.claim_idle_ms' => 1500);
my ($pid, $log) = start_worker($conf, 'cluster');
my $final = [qw(updated skipped failed)];
my @a = map { seed_job(user_action_job(source_id => "ha-clu$_")) } 1 .. 10;
is(scalar(grep { (wait_status($_, $final, 20)->{status} // '') eq 'updated' }
              @a), 10, 'given another node, the worker works on the slot\'s '
   . 'primary');
my $text = sub { local $/; open my $fh, '<', $log or return ''; <$fh> };
like($text->(), qr/cluster: slot $slot of \{caresync\} is on 127\.0\.0\.1:$owner->{port}/,
     '... which it learned from the slot map');

# the resharding, under load: jobs queued, the slot's keys moved one at a
# time while the worker runs them
my @b = map { seed_job(user_action_job(source_id => "ha-clu$_")) } 11 .. 40;
my $moved = move_slot($c, $slot, $next, pause => 0.01);
cmp_ok($moved, '>', 0, "the slot moved with its $moved keys");
is(cluster_slot_owner($c, $slot)->{port}, $next->{port},
   'another primary serves it now');
redis_at($next->{port});
my @after = map { seed_job(user_action_job(source_id => "ha-clu$_")) }
            41 .. $N;

my %end;
$end{ wait_status($_, $final, 30)->{status} // 'none' }++ for @a, @b, @after;
is(($end{updated} // 0) + ($end{skipped} // 0), $N,
   'every job ended: before, during and after the move') or diag explain \%end;
is(scalar(grep { $_->{Last_Tracker_View_At__c} } values %{ sf_contacts() }),
   $N, 'every contact has its tracker view');
ok(wait_for(sub { redis()->cmd('XPENDING', '{caresync}:jobs', 'workers')
                      ->[0] == 0 }, 10), 'nothing left pending');
is(redis()->cmd('XLEN', '{caresync}:dead'), 0, 'nothing dead-lettered');
like($text->(), qr/cluster: slot $slot of \{caresync\} is on (?#
                   )127\.0\.0\.1:$next->{port} \(was 127\.0\.0\.1:$owner->{port}\)/,
     'the worker followed the slot');
is(stop_worker($pid, 'TERM'), 0, 'clean exit');

# configuration: fail closed
my ($rc, $out, $err) = worker_cmd(write_config('redis.cluster' => 'on',
                                               'redis.prefix' => 'caresync'),
                                  'check');
like("$out$err", qr/redis\.cluster = on needs a prefix with a hash tag/,
     'a prefix without a hash tag: refused');
($rc, $out, $err) = worker_cmd(write_config('redis.cluster' => 'on',
                                            'redis.db' => 2), 'check');
like("$out$err", qr/redis\.cluster = on needs redis\.db = 0/, 'db 2: refused');
# a node that is not a Cluster node
($rc, $out, $err) = worker_cmd(write_config('redis.cluster' => 'on'), 'check');
like("$out$err", qr/redis: FAIL Redis at 127\.0\.0\.1:\d+ has no primary for (?#
                    )slot $slot of \{caresync\} \(redis\.cluster = on\): ERR/,
     'cluster = on against a standalone Redis: refused, saying why');

done_testing();
