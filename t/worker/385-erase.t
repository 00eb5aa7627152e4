# `erase --patient`: every kind of thing caresync holds about a patient
# (queued, retrying, parked, archived and dead jobs, dedupe marks, status
# records, batch rows, its keys, log lines) is removed and counted, by
# its source id or its contact id; nothing about another patient is
# touched, nor the CRM; a patient with a running job is refused.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;

my $JSON = JSON::PP->new->canonical->utf8;
my $env = start_env();
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

# queued, not read by any worker yet
my $q = queue(job('ha-e1'));
# the edge's standard-webhooks mark of one of its events
$r->cmd('SET', '{caresync}:message:' . ('f' x 64), $a);
# a batch naming the contact
$r->cmd('HSET', '{caresync}:batch:bE1:results', $cid, "matched\tj\tm",
        $other, "matched\tj\tm");
$r->cmd('RPUSH', '{caresync}:batch:bE1:items', $cid, $other);

ok($r->cmd('EXISTS', "{caresync}:job:$_"), "status record of $_ there")
    for $a, $d, $rt, $p;
ok(scalar(@{ worker_cmd_log() }) > 0, 'the log names the jobs');

# ---- erase by the source id ----

my $before = scalar @{ sf_requests() };
($rc, $out, $err) = worker_cmd($conf, 'erase', '--patient', 'ha-e1',
                               '--actor', 'dpo');
is($rc, 0, 'erase --patient ha-e1') or diag $err;
my %got = $out =~ /^removed (\w+) (\d+)$/mg;
is($got{queued}, 1, 'queued: 1');
is($got{retrying}, 1, 'retrying: 1');
is($got{parked}, 1, 'parked: 1');
is($got{archived}, 1, 'archived: 1 (job a)');
is($got{dead}, 1, 'dead: 1');
# the queued one was never started: it has none yet
is($got{status}, 4, 'status records: 4');
# the parked one has not ended an attempt: no timeline
is($got{timeline}, 3, 'their timelines: 3');
is($got{dedupe}, 6, 'dedupe and message marks: 6');
is($got{batch}, 2, 'batch rows: the result and the item of its contact');
ok($got{keys} >= 3, "its keys: lock, wait, index ($got{keys})");
ok($got{log} >= 5, "log lines: $got{log}");

is(scalar @{ sf_requests() }, $before, 'nothing sent to the CRM');
ok(sf_contacts()->{$cid}, '... whose contact is still there');

# nothing in Redis names the patient, its contact or its jobs
my @found;
my @ids = ('ha-e1', $cid, $a, $d, $rt, $p, $q);
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
is(scalar @arch, 2, '... and the archived jobs of the others');

# the audit trail says it happened, by whom, not about whom
my ($op) = grep { my %f = @{ $_->[1] }; ($f{action} // '') eq 'erase' }
           @{ $r->cmd('XRANGE', '{caresync}:audit', '-', '+') };
my %op = @{ $op->[1] };
is($op{actor}, 'dpo', 'the erasure is audited, by --actor');
like($op{removed}, qr/queued=1,retrying=1,parked=1,archived=1,dead=1/,
     '... with the counts');

# ---- by the contact id: the other patient ----

($rc, $out) = worker_cmd($conf, 'erase', '--patient', $other);
is($rc, 0, 'erase --patient <contact id>');
%got = $out =~ /^removed (\w+) (\d+)$/mg;
is($got{archived}, 1, '... finds the job that linked the contact');
is($got{batch}, 2, '... and its batch rows');
ok(!$r->cmd('EXISTS', "{caresync}:job:$k"), '... and its status record');

($rc, $out, $err) = worker_cmd($conf, 'erase', '--patient', 'a b');
is($rc, 2, 'a malformed id: usage error');

($rc, $out) = worker_cmd($conf, 'audit', 'verify');
is($rc, 0, 'the audit trail still verifies') or diag $out;

done_testing();

sub worker_cmd_log {
    my (undef, $o) = worker_cmd($conf, 'log');
    return [ grep { /\Q$a\E|\Q$d\E/ } split /\n/, $o ];
}
