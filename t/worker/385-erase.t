# `erase --patient`: every kind of thing caresync holds about a patient
# (queued, retrying, parked, archived and dead jobs, dedupe marks, status
# records, batch rows, its keys, log lines) is removed and counted, by
# its source id or its contact id; nothing about another patient is
# touched, nor the CRM; a patient with a running job is refused.
# Every job is sealed, as the edge seals it: the patient's ids are in the
# sealed part, and jobs no worker has run (in no index: queued, or put in
# the retry set, the archive and the dead letters as a run would leave
# them) are found by opening them; one under a key the worker does not
# have is kept and counted, never removed blind.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;

my $JSON = JSON::PP->new->canonical->utf8;
my $env = start_env();
# the edge's key: write_config() gives it to the worker, seed_job() seals
$env->{job_keys} = ['e1'];
my $r = redis();

my ($cid) = @{ fake_post('/__fake/salesforce/contacts',
                         [{ LastName => 'Erase',
                            HelpAround_Patient_Id__c => 'ha-e1' }]) };
my ($other) = @{ fake_post('/__fake/salesforce/contacts',
                           [{ LastName => 'Keep',
                              HelpAround_Patient_Id__c => 'ha-k1' }]) };
my ($slow) = @{ fake_post('/__fake/salesforce/contacts',
                          [{ LastName => 'Slow',
                             HelpAround_Patient_Id__c => 'ha-s1' }]) };

my $n = 0;
sub job {
    my ($sid, %o) = @_;
    my $j = user_action_job(source_id => $sid, %o);
    $j->{idempotency_key} = sprintf('%064x', ++$n);
    $r->cmd('SET', "{caresync}:dedupe:$j->{idempotency_key}", $j->{id});
    return $j;
}
sub queue { my ($j) = @_; seed_job($j); return $j->{id} }

# A sealed job of patient $sid left where a run leaves it, never run
# here (so in no patient index): 'retry', 'archive' or 'dead'.
my %SEAL_CMD = (
    retry => sub { ('ZADD', '{caresync}:retry', 9e12, "1-$n\t$_[1]") },
    archive => sub { ('XADD', '{caresync}:archive', '*', job_id => $_[0],
                      type => 'helparound.user_action', status => 'updated',
                      job => $_[1]) },
    dead => sub { ('XADD', '{caresync}:dead', '*', job_id => $_[0],
                   type => 'helparound.user_action', error => 'x',
                   attempts => 3, failed_at => 1, job => $_[1]) });
sub left_sealed {
    my ($where, $sid) = @_;
    my $j = user_action_job(source_id => $sid);
    $n++;
    my $t = Caresync::Worker::seal_job($j);
    die 'not sealed' unless $t =~ /"sealed":/ && $t !~ /\Q$sid\E/;
    my $res = $r->cmd($SEAL_CMD{$where}->($j->{id}, $t));
    die "$where: @$res" if ref $res;
    return $j->{id};
}

my $conf = write_config('worker.max_attempts' => 3,
                        'worker.backoff_base_ms' => 60000,
                        'worker.backoff_max_ms' => 60000,
                        'worker.claim_idle_ms' => 60000);
my $pid = start_worker($conf);

# archived (and its contact linked), and another patient's
my $a = queue(job('ha-e1', at => '2026-11-21T10:00:00.000Z'));
my $k = queue(job('ha-k1'));
is(wait_status($a, 'updated')->{crm_contact_id}, $cid, 'job a applied');
wait_status($k, 'updated');

# dead: the CRM refuses its write once
fake_post('/__fake/inject', [
    { app => 'salesforce', method => 'PATCH', path => "/Contact/$cid\$",
      times => 1, status => 400,
      json => [{ message => 'bad', errorCode => 'INVALID_FIELD' }] } ]);
my $d = queue(job('ha-e1', at => '2026-11-21T11:00:00.000Z'));
is(wait_status($d, 'failed')->{status}, 'failed', 'job d dead');

# retrying (holding the patient's turn), and one parked behind it
fake_post('/__fake/inject', [
    { app => 'salesforce', path => '/query.*ha-e1\b', times => -1,
      status => 503, body => 'down' } ]);
my $rt = queue(job('ha-e1', at => '2026-11-21T12:00:00.000Z'));
is(wait_status($rt, 'retrying')->{status}, 'retrying', 'job r retrying');
my $p = queue(job('ha-e1', at => '2026-11-21T13:00:00.000Z'));
ok(wait_for(sub { $r->cmd('ZCARD', '{caresync}:wait:ha:ha-e1') == 1 }, 10),
   'job p parked behind it');

# ---- refused while a job of the patient runs ----

fake_post('/__fake/inject', [
    { app => 'salesforce', path => '/query.*ha-s1\b', times => 1,
      status => 200, latency_ms => 4000,
      json => { totalSize => 0, done => JSON::PP::true, records => [] } } ]);
my $s = queue(job('ha-s1'));
wait_status($s, 'running');
my ($rc, $out, $err) = worker_cmd($conf, 'erase', '--patient', 'ha-s1');
is($rc, 1, 'erase while a job runs: refused');
like($err, qr/refused: job \Q$s\E for this patient is running;/,
     '... saying which job');
like($err, qr/; nothing was removed/, '... and that it removed nothing');
is(job_status($s)->{status}, 'running', '... and removing nothing');
wait_status($s, [qw(updated no_match failed)]);

is(stop_worker($pid), 0, 'worker stopped');

# queued, not read by any worker yet: sealed, in no index
my $q = queue(job('ha-e1'));
my ($qe) = map { my %f = @{ $_->[1] }; $f{job} }
           @{ $r->cmd('XRANGE', '{caresync}:jobs', '-', '+') };
ok($qe =~ /"sealed":\{"kid":"e1"/ && $qe !~ /ha-e1/,
   'the queued job is sealed: its patient is not readable');
# the patient's, and another's, where runs leave jobs, never run here
my %left = map { my $w = $_;
                 ($w => [ map { left_sealed($w, $_) } 'ha-e1', 'ha-k1' ]) }
           qw(retry archive dead);
# the edge's standard-webhooks mark of one of its events
$r->cmd('SET', '{caresync}:message:' . ('f' x 64), $a);
# a batch naming the contact
$r->cmd('HSET', '{caresync}:batch:bE1:results', $cid, "matched\tj\tm",
        $other, "matched\tj\tm");
$r->cmd('RPUSH', '{caresync}:batch:bE1:items', $cid, $other);
# the media an enrollment attached to each contact (digests of ids)
$r->cmd('SADD', "{caresync}:media:$_", 'e' x 64) for $cid, $other;

ok($r->cmd('EXISTS', "{caresync}:job:$_"), "status record of $_ there")
    for $a, $d, $rt, $p;
ok(scalar(@{ worker_cmd_log() }) > 0, 'the log names the jobs');

# ---- erase by the source id ----

my $before = scalar @{ sf_requests() };
($rc, $out, $err) = worker_cmd($conf, 'erase', '--patient', 'ha-e1',
                               '--actor', 'dpo');
is($rc, 0, 'erase --patient ha-e1') or diag $err;
my %got = $out =~ /^removed (\w+) (\d+)$/mg;
is($got{queued}, 1, 'queued: 1 (sealed, opened to be found)');
is($got{retrying}, 2, 'retrying: 2 (one in no index, opened)');
is($got{parked}, 1, 'parked: 1');
is($got{archived}, 2, 'archived: 2 (job a, one in no index)');
is($got{dead}, 2, 'dead: 2 (job d, one in no index)');
like($out, qr/^kept unreadable 0$/m, 'kept unreadable: 0');
# the queued one was never started: it has none yet
is($got{status}, 4, 'status records: 4');
# the parked one has not ended an attempt: no timeline
is($got{timeline}, 3, 'their timelines: 3');
is($got{dedupe}, 6, 'dedupe and message marks: 6');
is($got{batch}, 2, 'batch rows: the result and the item of its contact');
ok($got{keys} >= 4, "its keys: lock, wait, index, media ($got{keys})");
ok(!$r->cmd('EXISTS', "{caresync}:media:$cid"), '... its contact\'s media marks');
ok($r->cmd('EXISTS', "{caresync}:media:$other"), '... not another\'s');
ok($got{log} >= 5, "log lines: $got{log}");

is(scalar @{ sf_requests() }, $before, 'nothing sent to the CRM');
ok(sf_contacts()->{$cid}, '... whose contact is still there');

# nothing in Redis names the patient, its contact or its jobs
my @found;
my @ids = ('ha-e1', $cid, $a, $d, $rt, $p, $q, map { $_->[0] } values %left);
for my $key (@{ $r->cmd('KEYS', '*') }) {
    next if $key eq '{caresync}:audit';
    my $t = $r->cmd('TYPE', $key);
    my @v = $t eq 'string' ? ($r->cmd('GET', $key))
          : $t eq 'hash' ? @{ $r->cmd('HGETALL', $key) }
          : $t eq 'list' ? @{ $r->cmd('LRANGE', $key, 0, -1) }
          : $t eq 'set' ? @{ $r->cmd('SMEMBERS', $key) }
          : $t eq 'zset' ? @{ $r->cmd('ZRANGE', $key, 0, -1) }
          : $t eq 'stream' ? map { @{ $_->[1] } }
                             @{ $r->cmd('XRANGE', $key, '-', '+') }
          : ();
    for my $id (@ids) {
        push @found, "$key holds $id"
            if grep { /(?<![\w.-])\Q$id\E(?![\w.-])/ } $key, @v;
    }
}
is_deeply(\@found, [], 'nothing left in Redis names the patient');

# the other patient is untouched
is(job_status($k)->{status}, 'updated', 'another patient\'s record kept');
is($r->cmd('HGET', '{caresync}:batch:bE1:results', $other), "matched\tj\tm",
   '... and its batch row');
my @arch = @{ $r->cmd('XRANGE', '{caresync}:archive', '-', '+') };
is(scalar @arch, 3, '... and the archived jobs of the others');
my $kept = join ' ', map { @{ $_->[1] } }
           @{ $r->cmd('XRANGE', '{caresync}:archive', '-', '+') },
           @{ $r->cmd('XRANGE', '{caresync}:dead', '-', '+') };
$kept .= join ' ', @{ $r->cmd('ZRANGE', '{caresync}:retry', 0, -1) };
ok((grep { index($kept, $left{$_}[1]) >= 0 } keys %left) == 3,
   '... and its sealed jobs in no index (retry, archive, dead)');

# the audit trail says it happened, by whom, not about whom
my ($op) = grep { my %f = @{ $_->[1] }; ($f{action} // '') eq 'erase' }
           @{ $r->cmd('XRANGE', '{caresync}:audit', '-', '+') };
my %op = @{ $op->[1] };
is($op{actor}, 'dpo', 'the erasure is audited, by --actor');
like($op{removed}, qr/queued=1,retrying=2,parked=1,archived=2,dead=2/,
     '... with the counts');

# ---- by the contact id: the other patient ----

($rc, $out) = worker_cmd($conf, 'erase', '--patient', $other);
is($rc, 0, 'erase --patient <contact id>');
%got = $out =~ /^removed (\w+) (\d+)$/mg;
is($got{archived}, 1, '... finds the job that linked the contact');
is($got{batch}, 2, '... and its batch rows');
ok(!$r->cmd('EXISTS', "{caresync}:job:$k"), '... and its status record');
ok(!$r->cmd('EXISTS', "{caresync}:media:$other"), '... and its media marks');

# its sealed jobs in no index are found by its source id
($rc, $out) = worker_cmd($conf, 'erase', '--patient', 'ha-k1');
is($rc, 0, 'erase --patient ha-k1');
%got = $out =~ /^removed (\w+) (\d+)$/mg;
is("$got{retrying} $got{archived} $got{dead}", '1 1 1',
   '... opens its sealed jobs in the retry set, the archive, the DLQ');

# a sealed job the worker cannot open: kept, counted, not removed blind
my $gone = do { local $env->{job_keys} = ['gone']; left_sealed('dead', 'ha-e1') };
my $forged = left_sealed('retry', 'ha-e1');
my ($fm) = @{ $r->cmd('ZRANGE', '{caresync}:retry', 0, -1) };
$r->cmd('ZREM', '{caresync}:retry', $fm);
$fm =~ s/("ct":")(.)/$1 . ($2 eq 'A' ? 'B' : 'A')/e or die;
$r->cmd('ZADD', '{caresync}:retry', 9e12, $fm);
($rc, $out, $err) = worker_cmd($conf, 'erase', '--patient', 'ha-e1');
is($rc, 3, 'erase with sealed jobs it cannot open: exit 3') or diag $err;
like($out, qr/^kept unreadable 2$/m, '... kept unreadable: 2');
like($out, qr/^removed dead 0$/m, '... none of them removed');
like($err, qr/2 sealed jobs could not be opened \(key id (gone \?|\? gone|gone e1|e1 gone)\)/,
     '... naming the key ids') or diag $err;
unlike("$out$err", qr/ha-e1/, '... and nothing of the jobs');
is($r->cmd('XLEN', '{caresync}:dead'), 1, '... the dead letter is still there');
is($r->cmd('ZCARD', '{caresync}:retry'), 1, '... and the forged retry');
my ($op2) = grep { my %f = @{ $_->[1] }; ($f{action} // '') eq 'erase' }
            reverse @{ $r->cmd('XRANGE', '{caresync}:audit', '-', '+') };
my %op2 = @{ $op2->[1] };
is("$op2{result} $op2{unreadable}", 'unreadable kept 2',
   '... and the audit entry says so');

($rc, $out, $err) = worker_cmd($conf, 'erase', '--patient', 'a b');
is($rc, 2, 'a malformed id: usage error');

($rc, $out) = worker_cmd($conf, 'audit', 'verify');
is($rc, 0, 'the audit trail still verifies') or diag $out;

done_testing();

sub worker_cmd_log {
    my (undef, $o) = worker_cmd($conf, 'log');
    return [ grep { /\Q$a\E|\Q$d\E/ } split /\n/, $o ];
}
