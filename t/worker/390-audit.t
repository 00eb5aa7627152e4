# The audit trail {caresync}:audit: every CRM write of a real sync and
# every operator action, chained by SHA-256; `audit verify` names the
# first break (an edited entry, a removed one, a cut head); pruning with
# an anchor still verifies; appends from many processes make one chain;
# no field value (the fixture's PHI) is in it; `audit export` for a SIEM.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time);
use Digest::SHA qw(sha256_hex);
use Caresync::Worker;

my $env = start_env();
my $r = redis();
my $port = start_nginx(
    'location = /webhook/user-enrollment '
    . '{ caresync_webhook helparound_enrollment; caresync_auth off; }');
plan skip_all => 'nginx or the module is not built (make module)'
    unless $port;

my $J = JSON::PP->new->canonical->utf8;
my $path = ($ENV{CARESYNC_FIXTURES}
            // Caresync::Worker::root() . '/../shared/fixtures')
           . '/helparound/enrollment.json';
my $fixture = do { local $/; open my $fh, '<', $path or die "$path: $!";
                   <$fh> };
my $PHI = qr/John|Doe|test\@gmail|2027953213|12345|ds43|234234|hg89/;

my $conf = write_config(
    'helparound.media_url_template' => "$env->{fake}/helparound/media/{id}",
    'helparound.api_key' => 'fake-ha-key');

sub entries {
    return [ map { { id => $_->[0], f => { @{ $_->[1] } },
                     l => $_->[1] } }
             @{ $r->cmd('XRANGE', '{caresync}:audit', '-', '+') } ];
}

sub verify {
    my ($rc, $out, $err) = worker_cmd($conf, 'audit', 'verify');
    return ($rc, $out . $err);
}

# ---- a real sync: the writes are in the trail ----

my $res = HTTP::Tiny->new(timeout => 10)->post(
    "http://127.0.0.1:$port/webhook/user-enrollment",
    { content => $fixture,
      headers => { 'Content-Type' => 'application/json' } });
is($res->{status}, 200, 'nginx queued the enrollment');
my $e;
wait_for(sub { $e = $r->cmd('XREVRANGE', '{caresync}:jobs', '+', '-',
                            'COUNT', 1); ref $e eq 'ARRAY' && @$e });
my $job = $J->decode({ @{ $e->[0][1] } }->{job});

my $pid = start_worker($conf);
my $st = wait_status($job->{id}, [qw(created updated failed)]);
is($st->{status}, 'created', 'the enrollment created a contact');
my $cid = $st->{crm_contact_id};

my @w = grep { $_->{f}{kind} eq 'write' } @{ entries() };
my ($contact) = grep { $_->{f}{target} eq 'salesforce/Contact' } @w;
ok($contact, 'the contact\'s creation is audited');
is($contact->{f}{job}, $job->{id}, '... with the job id');
is($contact->{f}{record}, $cid, '... and the record id');
like($contact->{f}{fields}, qr/(^|,)LastName(,|$)/,
     '... and the names of the fields written');
like($contact->{f}{fields}, qr/(^|,)Email(,|$)/, '... every one');
my @files = grep { $_->{f}{target} eq 'salesforce/ContentVersion' } @w;
is(scalar @files, 5, 'each media file attached is audited');
is(scalar(grep { $_->{f}{job} ne $job->{id} } @w), 0,
   'every write names its job');
is(scalar(grep { $_->{method} ne 'GET' }
          @{ sf_requests() }) - @{ sf_requests(path => qr{oauth2/token}) },
   scalar @w, 'one audit entry per write the CRM received');

# ---- operator actions, with who ran them ----

my ($rc, $out, $err) = worker_cmd($conf, 'replay', '--since', '1h',
                                  '--type', 'none.such', '--actor',
                                  'ops-alice');
is($rc, 0, 'a replay') or diag $err;
($rc, $out, $err) = worker_cmd($conf, 'erase', '--patient', 'ha-nobody');
is($rc, 0, 'an erasure') or diag $err;
my @ids = @{ fake_post('/__fake/salesforce/contacts',
                       [ map { { LastName => "B$_" } } 1 .. 3 ]) };
open my $fh, '>', "$env->{dir}/b.csv" or die;
print $fh "Id\r\n", map { "$_\r\n" } @ids;
close $fh;
($rc, $out, $err) = worker_cmd($conf, 'batch', 'healthsherpa', '--csv',
                               "$env->{dir}/b.csv");
my ($bid) = $out =~ /^batch (\S+) queued/m;
ok($bid, 'a batch started') or diag $err;
($rc) = worker_cmd($conf, 'batch', 'abort', $bid);
is($rc, 0, '... and aborted');

# a dead job, replayed from the dead-letter queue
my $dead = user_action_job(type => 'x.unknown');
seed_job($dead);
wait_status($dead->{id}, 'failed');
($rc, $out, $err) = worker_cmd($conf, 'dlq', 'replay', $dead->{id});
is($rc, 0, 'a dlq replay') or diag $err;

my %op = map { $_->{f}{action} => $_->{f} }
         grep { $_->{f}{kind} eq 'op' } @{ entries() };
is($op{replay}{actor}, 'ops-alice', 'replay audited, by --actor');
is($op{replay}{type}, 'none.such', '... with its filters');
is($op{replay}{count}, 0, '... and its count');
my $me = getpwuid($>);
is($op{erase}{actor}, $me, 'erase audited, by the OS user');
like($op{erase}{patient_sha256}, qr/^[0-9a-f]{64}$/,
     '... naming the patient by a digest');
unlike(join(' ', values %{ $op{erase} }), qr/ha-nobody/, '... not the id');
is($op{'batch start'}{batch}, $bid, 'batch start audited');
is($op{'batch start'}{count}, 3, '... with its size');
is($op{'batch abort'}{batch}, $bid, 'batch abort audited');
is($op{'dlq replay'}{job}, $dead->{id}, 'dlq replay audited, with the job');
is($op{'dlq replay'}{count}, 1, '... and its count');

# ---- key rotation: the ring's changes, by whom, key ids only ----

sub rotations {
    return [ grep { ($_->{f}{action} // '') eq 'key rotation' }
             @{ entries() } ];
}
my $rot = rotations();
is(scalar @$rot, 1, 'the first worker start recorded the ring');
is("$rot->[0]{f}{by} $rot->[0]{f}{actor}", "worker start $me",
   '... by the worker, as the user it runs as');
is("$rot->[0]{f}{keys} $rot->[0]{f}{added} $rot->[0]{f}{before}",
   'w1 w1 -', '... its key ids, all added');

($rc, $out, $err) = worker_cmd($conf, 'crypto', 'rotate', '--actor', 'kim');
is($rc, 0, 'crypto rotate, the ring unchanged') or diag $err;
like($out, qr/^the key ring is the one recorded \(w1\): nothing to record$/m,
     '... records nothing');
is(scalar @{ rotations() }, 1, '... no entry');

my $conf2 = write_config(
    'crypto.keys' => worker_keys('w1', 'w2'),
    'helparound.media_url_template' => "$env->{fake}/helparound/media/{id}",
    'helparound.api_key' => 'fake-ha-key');
($rc, $out, $err) = worker_cmd($conf2, 'crypto', 'rotate', '--actor', 'kim');
is($rc, 0, 'crypto rotate with a key added') or diag $err;
like($out, qr/^recorded: keys w1 w2, added w2, retired -$/m, '... says so');
like($out, qr/^w2\s+current\s+0\b/m, '... with crypto status\'s counts');
my %k = %{ rotations()->[-1]{f} };
is("$k{actor}|$k{by}|$k{keys}|$k{newest}|$k{added}|$k{retired}|$k{before}",
   'kim|crypto rotate|w1 w2|w2|w2|-|w1', '... an entry: who, the key ids');
like($k{protects}, qr/^w1:[1-9]\d*,w2:0(,clear:\d+)?$/,
     '... and how many jobs each key still protects');
is($r->cmd('GET', '{caresync}:crypto:ring'), 'w1 w2', '... the ring recorded');

# dropping a key that still protects jobs: refused, nothing recorded
my $conf3 = write_config('crypto.keys' => worker_keys('w2'));
my $n_rot = scalar @{ rotations() };
($rc, $out, $err) = worker_cmd($conf3, 'crypto', 'rotate', '--actor', 'kim');
is($rc, 1, 'crypto rotate dropping a key in use: refused');
like($err, qr/refused: key `w1`, which this configuration drops, still (?#
               )protects \d+ jobs? .*nothing was recorded/, '... saying why');
is(scalar @{ rotations() }, $n_rot, '... no entry');

# a worker started with it anyway: the rotation is in the trail all the same
my $p3 = start_worker($conf3, 'w2-only');
ok(wait_for(sub { @{ rotations() } > $n_rot }, 10),
   'a worker started with a key dropped records it');
is(stop_worker($p3), 0, '... (stopped)');
%k = %{ rotations()->[-1]{f} };
is("$k{actor}|$k{by}|$k{keys}|$k{added}|$k{retired}|$k{before}",
   "$me|worker start|w2|-|w1|w1 w2", '... retired w1, by the worker\'s user');

# never key material: neither a key's hex nor its file in any entry
my @hex = map { open my $kf, '<', job_key($_) or die; my $h = <$kf>;
                chomp $h; $h } qw(w1 w2);
my $trail = join ' ', map { @{ $_->{l} } } @{ entries() };
ok(!(grep { index($trail, $_) >= 0 || index($trail, lc $_) >= 0 }
     @hex, job_key('w1'), job_key('w2'), substr($hex[0], 0, 16)),
   'no key, no part of one and no key file in the trail');

# ---- many appenders at once: one chain ----

my @kids;
for my $n (1 .. 8) {
    my $k = fork // die;
    if ($k == 0) {
        exec Caresync::Worker::worker_bin(), 'erase', '--patient',
             "ha-par$n", '--config', $conf;
        exit 127;
    }
    push @kids, $k;
}
waitpid($_, 0) for @kids;
is(scalar(grep { ($_->{f}{action} // '') eq 'erase' } @{ entries() }), 9,
   'eight concurrent operators: eight more entries');

($rc, $out) = verify();
is($rc, 0, 'audit verify: the chain holds') or diag $out;
like($out, qr/^ok: \d+ entries/m, '... and says so');

# ---- the hash is the one docs/phi-and-retention.md defines ----

my ($agree, $prev) = (0, '0' x 64);
for my $x (@{ entries() }) {
    my @l = @{ $x->{l} };
    my $bytes = "caresync-audit-v1\n$prev\n";
    for (my $i = 0; $i < @l - 4; $i += 2) {
        $bytes .= "$l[$i]=" . length($l[$i + 1]) . ":$l[$i + 1]\n";
    }
    last unless $x->{f}{prev} eq $prev
                && sha256_hex($bytes) eq $x->{f}{hash};
    $agree++;
    $prev = $x->{f}{hash};
}
is($agree, scalar @{ entries() },
   'every hash recomputed from the documented bytes agrees');

# ---- no field value in the trail ----

my $n_fields = 0;
for my $x (@{ entries() }) {
    my %f = %{ $x->{f} };
    delete @f{qw(at prev hash patient_sha256)};    # times and digests
    $n_fields++ if ($f{fields} // '') =~ /\w/;
    my $bad = grep { /$PHI/ } values %f;
    ok(!$bad, "entry $x->{id} holds no PHI value") or last;
}
ok($n_fields >= 6, 'the search covered the entries with field names');

# ---- export for a SIEM ----

($rc, $out) = worker_cmd($conf, 'audit', 'export', '--since', '1h');
is($rc, 0, 'audit export');
my @lines = split /\n/, $out;
is(scalar @lines, scalar @{ entries() }, '... one line an entry');
my $first = eval { $J->decode($lines[0]) };
ok($first && $first->{id} && $first->{hash} && $first->{kind},
   '... each a JSON object with id, kind and hash');
($rc, $out) = worker_cmd($conf, 'audit', 'export', '--since',
                         '2999-01-01T00:00:00Z');
is($out, '', '... from --since on');

is(stop_worker($pid), 0, 'worker stopped');

# ---- tampering ----

# rewrites the stream with the same ids: $edit changes entries on the way
sub rewrite {
    my ($edit) = @_;
    my $all = entries();
    $r->cmd('DEL', '{caresync}:audit');
    for my $x (@$all) {
        my @l = @{ $x->{l} };
        my $id = $edit->($x, \@l);
        next unless defined $id;
        $r->cmd('XADD', '{caresync}:audit', $id, @l);
    }
}

my $all = entries();
my $victim = $contact->{id};
my $saved = [ @$all ];
rewrite(sub { my ($x, $l) = @_;
              if ($x->{id} eq $victim) {
                  for (my $i = 0; $i < @$l; $i += 2) {
                      $l->[$i + 1] = 'LastName' if $l->[$i] eq 'fields';
                  }
              }
              $x->{id} });
($rc, $out) = verify();
is($rc, 1, 'an edited entry: verify fails');
like($out, qr/BROKEN at entry \Q$victim\E: its hash does not match/,
     '... naming it');

# restored
$r->cmd('DEL', '{caresync}:audit');
$r->cmd('XADD', '{caresync}:audit', $_->{id}, @{ $_->{l} }) for @$saved;
($rc, $out) = verify();
is($rc, 0, 'restored: verifies again') or diag $out;

my ($gone, $next) = ($saved->[2]{id}, $saved->[3]{id});
rewrite(sub { $_[0]{id} eq $gone ? undef : $_[0]{id} });
($rc, $out) = verify();
is($rc, 1, 'a removed entry: verify fails');
like($out, qr/BROKEN at entry \Q$next\E: its prev is not the hash/,
     '... naming the entry after it');

$r->cmd('DEL', '{caresync}:audit');
$r->cmd('XADD', '{caresync}:audit', $_->{id}, @{ $_->{l} }) for @$saved;
$r->cmd('XTRIM', '{caresync}:audit', 'MINID', $saved->[3]{id});
($rc, $out) = verify();
is($rc, 1, 'the oldest entries cut without an anchor: verify fails');
like($out, qr/BROKEN at entry \Q$saved->[3]{id}\E: the chain starts after/,
     '... naming where it starts');

# ---- pruning keeps it verifiable ----

$r->cmd('DEL', '{caresync}:audit');
my $old = int(time * 1000) - 7200_000;
my $i = 0;
for my $x (@$saved) {
    # the first ten become two hours old; ids are not hashed
    my $id = $i < 10 ? "$old-$i" : $x->{id};
    $r->cmd('XADD', '{caresync}:audit', $id, @{ $x->{l} });
    $i++;
}
($rc, $out) = verify();
is($rc, 0, 'aged entries still verify') or diag $out;

$r->cmd('DEL', '{caresync}:prune', '{caresync}:prune:audit');
# the ring last recorded: its start adds no rotation entry
my $pconf = write_config('crypto.keys' => worker_keys('w2'),
                         'retention.audit_s' => 3600,
                         'retention.prune_interval_ms' => 200);
$pid = start_worker($pconf, 'pruner');
ok(wait_for(sub { my $a = entries(); @$a && $a->[0]{id} !~ /^$old-/ }, 10),
   'the pruner removed the old entries');
is(stop_worker($pid), 0, 'pruner stopped');
my ($anchor) = grep { $_->{f}{kind} eq 'anchor' } @{ entries() };
ok($anchor, 'an anchor was appended');
is($anchor->{f}{first}, entries()->[0]{id}, '... naming the first kept');
is($anchor->{f}{start}, entries()->[0]{f}{prev}, '... and its prev');
is(scalar @{ entries() }, @$saved - 10 + 1, 'ten pruned, one anchor added');
($rc, $out) = verify();
is($rc, 0, 'pruned with an anchor: verify passes') or diag $out;

done_testing();
