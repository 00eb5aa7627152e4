# The worker resolves redis.host again on every reconnect: a name that
# moves (a DNS failover, a managed service's primary endpoint) is followed
# without a restart.  The worker runs in a mount namespace of its own
# whose /etc/hosts the test rewrites: the name first points at one real
# redis-server (127.0.0.1), then, once that one is killed, at another
# (127.0.0.2, the same port).  Needs root (unshare -m); skipped otherwise.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Caresync::Worker;
use Caresync::RedisTopology;

plan skip_all => 'needs root and unshare(1) for a private /etc/hosts'
    unless $> == 0
        && system('unshare -m true >/dev/null 2>&1') == 0;

my $env = start_env();
my $name = 'redis-primary.caresync.test';
my $hosts = "$env->{dir}/hosts";
sub point_name {
    my ($addr) = @_;
    # rewritten in place: the bind mount shows this very file
    my $fh;
    open($fh, '+<', $hosts) or open($fh, '>', $hosts) or die "$hosts: $!";
    truncate $fh, 0;
    print $fh "127.0.0.1 localhost\n$addr $name\n";
    close $fh;
}
point_name('127.0.0.1');

my $b = start_redis_node(dir => $env->{dir}, bind => '127.0.0.2',
                         port => $env->{redis_port});
fake_post('/__fake/salesforce/contacts', [
    { LastName => 'A', HelpAround_Patient_Id__c => 'ha-dns-a' },
    { LastName => 'B', HelpAround_Patient_Id__c => 'ha-dns-b' } ]);

my $conf = write_config('redis.host' => $name, 'redis.timeout_ms' => 1000);
my $log = "$env->{dir}/resolve.log";
my $pid = Caresync::Worker::spawn($log, 'unshare', '-m', 'sh', '-c',
    'mount --bind "$1" /etc/hosts && exec "$2" run --config "$3"', 'sh',
    $hosts, Caresync::Worker::worker_bin(), $conf);

my $j = seed_job(user_action_job(source_id => 'ha-dns-a'));
is(wait_status($j, [qw(updated failed)])->{status}, 'updated',
   "by name: the job on the node $name names first (127.0.0.1)");

point_name('127.0.0.2');
kill_redis();
redis_at($b->{port}, '127.0.0.2');
$j = seed_job(user_action_job(source_id => 'ha-dns-b'));
is(wait_status($j, [qw(updated failed)], 20)->{status}, 'updated',
   'after the name moved: the job on the other node (127.0.0.2) ends');

my $text = do { local $/; open my $fh, '<', $log; <$fh> };
like($text, qr/redis pipeline lost|connection lost/,
     'the worker lost the first node');
is(scalar(() = $text =~ /consumer group created/g), 2,
   '... and made the group on the second, by itself');
is(stop_worker($pid, 'TERM'), 0, 'clean exit');

done_testing();
