# Retention and replay: a processed job is archived with the bytes it was
# queued with and pruned by age; dead letters are pruned by age and bound;
# `replay` (dry run, filters, paging) queues them again with a link to
# where they came from, and a replay of an applied job writes nothing;
# the work stream never loses an entry no worker has acknowledged.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;

my $JSON = JSON::PP->new->canonical->utf8;
my $env = start_env();
my $r = redis();

my %c;
for my $k (qw(a b c)) {
    ($c{$k}) = @{ fake_post('/__fake/salesforce/contacts',
                            [{ LastName => "R$k",
                               HelpAround_Patient_Id__c => "ha-r$k" }]) };
}

# ---- archive: the job's bytes as queued ----

my $conf = write_config('worker.max_attempts' => 1);
my %bytes;
sub queue {
    my ($job, %f) = @_;
    my $b = $JSON->encode($job);
    $bytes{ $job->{id} } = $b;
    my $id = $r->cmd('XADD', '{caresync}:jobs', '*', 'job', $b, %f);
    die 'XADD failed' if ref $id;
    return $job->{id};
}

my $ja = queue(user_action_job(source_id => 'ha-ra'));
my $jb = queue(user_action_job(source_id => 'ha-rb'));
my $dead = user_action_job(source_id => 'ha-rc', type => 'x.unknown');
$dead->{source}{system} = 'hint';
my $jd = queue($dead);

my ($pid, $log) = start_worker($conf);
is(wait_status($ja, 'updated')->{status}, 'updated', 'job a applied');
is(wait_status($jb, 'updated')->{status}, 'updated', 'job b applied');
is(wait_status($jd, 'failed')->{status}, 'failed', 'job d dead-lettered');

my $arch = $r->cmd('XRANGE', '{caresync}:archive', '-', '+');
my %arch = map { my %f = @{ $_->[1] }; ($f{job_id} => \%f) } @$arch;
is(scalar(keys %arch), 2, 'two processed jobs archived (not the dead one)');
is($arch{$ja}{job}, $bytes{$ja}, '... with the bytes it was queued with');
is($arch{$ja}{status}, 'updated', '... and its final status');
is($arch{$ja}{type}, 'helparound.user_action', '... and its type');
is($r->cmd('XLEN', '{caresync}:dead'), 1, 'one dead letter');

# ---- replay: dry run and filters ----

my $patches = sub { scalar @{ sf_requests(method => 'PATCH') } };
my $before = $patches->();

my ($rc, $out, $err) = worker_cmd($conf, 'replay', '--since', '1h',
                                  '--dry-run');
is($rc, 0, 'replay --dry-run') or diag $err;
like($out, qr/would replay 3 job\(s\)/, '... counts archived and dead');
like($out, qr/^would replay \Q$_\E (archive|dead):\d+-\d+$/m,
     "... names $_") for $ja, $jb, $jd;
is($r->cmd('XLEN', '{caresync}:dead'), 1, '... and queues nothing');

($rc, $out) = worker_cmd($conf, 'replay', '--since', '1h', '--dry-run',
                         '--type', 'helparound.user_action');
like($out, qr/would replay 2 job\(s\)/, '--type filters');
unlike($out, qr/\Q$jd\E/, '... the other type left out');

($rc, $out) = worker_cmd($conf, 'replay', '--since', '1h', '--dry-run',
                         '--source', 'hint');
like($out, qr/would replay 1 job\(s\)/, '--source filters');
like($out, qr/\Q$jd\E dead:/, '... to the job from that source');

($rc, $out) = worker_cmd($conf, 'replay', '--since', '2000-01-01T00:00:00Z',
                         '--until', '2000-01-02T00:00:00Z', '--dry-run');
like($out, qr/would replay 0 job\(s\)/, '--until bounds the range');

($rc, $out, $err) = worker_cmd($conf, 'replay', '--dry-run');
is($rc, 2, 'replay without --since: usage');

# ---- replay: applied jobs write nothing, with a link ----

($rc, $out, $err) = worker_cmd($conf, 'replay', '--since', '1h',
                               '--type', 'helparound.user_action',
                               '--actor', 'ops-alice');
is($rc, 0, 'replay of the applied jobs') or diag $err;
like($out, qr/replayed 2 job\(s\)/, '... two queued');

for my $j ($ja, $jb) {
    my $st;
    wait_for(sub { $st = job_status($j);
                   ($st->{replays} // 0) == 1 && $st->{status} ne 'queued'
                   && $st->{status} ne 'running' }, 15);
    is($st->{status}, 'skipped', "replayed $j ran: nothing to write");
    like($st->{replay_of}, qr/^archive:\d+-\d+$/, '... linked to its '
         . 'archive entry');
    is($st->{attempts}, 1, '... a new attempt count');
}
is($patches->(), $before, 'no PATCH reached the CRM for the replays');
is(scalar(@{ $r->cmd('XRANGE', '{caresync}:archive', '-', '+') }), 4,
   'the replays are archived too');

# a limit pages a large replay and says where it stopped
($rc, $out) = worker_cmd($conf, 'replay', '--since', '1h', '--dry-run',
                         '--limit', '1');
like($out, qr/would replay 1 job\(s\)/, '--limit bounds a run');
like($out, qr/stopped at the limit; more match from stream id \d+-\d+/,
     '... and says where to go on');

# the dead one, with a handler deployed... here: replayed and dead again
($rc, $out) = worker_cmd($conf, 'replay', '--since', '1h', '--source',
                         'hint');
like($out, qr/replayed 1 job\(s\)/, 'the dead job replayed');
my $st;
wait_for(sub { $st = job_status($jd); ($st->{replays} // 0) == 1
               && $st->{status} eq 'failed' }, 15);
is($st->{status}, 'failed', '... ran again, and failed again');
like($st->{replay_of}, qr/^dead:\d+-\d+$/, '... linked to its dead letter');
is($r->cmd('XLEN', '{caresync}:dead'), 1,
   '... left the dead-letter queue once, and is back in it once');

my $ttl = $r->cmd('TTL', "{caresync}:job:$ja");
ok($ttl > 0 && $ttl <= 2592000, "finished status records expire ($ttl s)");

is(stop_worker($pid), 0, 'worker stopped');

# a replay of a range larger than a page (200) is read page by page
$r->cmd('XADD', '{caresync}:archive', '*', 'job_id', "page-$_", 'type',
        'x.page', 'status', 'updated', 'job', '{}') for 1 .. 450;
($rc, $out) = worker_cmd($conf, 'replay', '--since', '1h', '--dry-run',
                         '--type', 'x.page');
like($out, qr/would replay 450 job\(s\)/, 'three pages, every entry');
is(scalar(() = $out =~ /^would replay page-\d+ /mg), 450,
   '... each named once');
$r->cmd('XTRIM', '{caresync}:archive', 'MAXLEN', 0);

# ---- pruning by age and bound ----

my $short = write_config('worker.max_attempts' => 1,
                         'retention.archive_s' => 2,
                         'retention.dead_s' => 60,
                         'retention.dead_max' => 10,
                         'retention.prune_interval_ms' => 200);
# eleven more dead letters (bound 10), and an old one (by age)
$r->cmd('XADD', '{caresync}:dead', (time() * 1000 - 3600_000) . '-0',
        'job_id', 'old-dead', 'type', 'x', 'job', '{}');
my @more = map { queue(user_action_job(type => 'x.unknown',
                                       source_id => "ha-d$_")) } 1 .. 11;
# the turn the first worker took (for its own interval) is over
$r->cmd('DEL', '{caresync}:prune');
($pid) = start_worker($short, 'pruner');
wait_status($_, 'failed') for @more;
ok(wait_for(sub { @{ $r->cmd('XRANGE', '{caresync}:archive', '-', '+') }
                  == 0 }, 10), 'archived jobs pruned after archive_s');
ok(wait_for(sub { $r->cmd('XLEN', '{caresync}:dead') == 10 }, 10),
   'dead letters bounded by dead_max');
my $ids = join ' ', map { my %f = @{ $_->[1] }; $f{job_id} }
                    @{ $r->cmd('XRANGE', '{caresync}:dead', '-', '+') };
unlike($ids, qr/old-dead/, '... the oldest went first (and by age)');

# ---- the work stream never drops an unacknowledged entry ----

# a worker that read entries and died: they stay pending
is(stop_worker($pid), 0, 'pruner stopped');
$r->cmd('XGROUP', 'CREATECONSUMER', '{caresync}:jobs', 'workers', 'ghost');
my @ghost = map { queue(user_action_job(source_id => 'ha-ra')) } 1 .. 3;
my $got = $r->cmd('XREADGROUP', 'GROUP', 'workers', 'ghost', 'COUNT', 10,
                  'STREAMS', '{caresync}:jobs', '>');
is(scalar @{ $got->[0][1] }, 3, 'a ghost consumer holds three entries');
my $lazy = write_config('retention.archive_s' => 1,
                        'retention.prune_interval_ms' => 100,
                        'worker.claim_idle_ms' => 60000);
# an old archive entry: its removal proves the passes ran
$r->cmd('XADD', '{caresync}:archive', (time() * 1000 - 3600_000) . '-0',
        'job_id', 'old-archived', 'type', 'x', 'job', '{}');
$r->cmd('DEL', '{caresync}:prune');
($pid) = start_worker($lazy, 'lazy');
ok(wait_for(sub { $r->cmd('XLEN', '{caresync}:archive') == 0 }, 10),
   'the lazy worker prunes');
sleep 1;    # more prune passes, none may touch the pending entries
is($r->cmd('XLEN', '{caresync}:jobs'), 3, 'pruning kept every pending entry');
is($r->cmd('XPENDING', '{caresync}:jobs', 'workers')->[0], 3,
   '... still pending for the ghost');
is(stop_worker($pid), 0, 'worker stopped');

# once they may be reclaimed, a worker finishes them
($pid) = start_worker(write_config('worker.claim_idle_ms' => 500), 'reclaim');
ok(wait_for(sub { $r->cmd('XLEN', '{caresync}:jobs') == 0 }, 15),
   'reclaimed and finished, then deleted');
is(stop_worker($pid), 0, 'worker stopped');

done_testing();
