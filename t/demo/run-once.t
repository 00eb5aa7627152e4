# `RUN_ONCE=1 make run`, the README's run command in its non-interactive
# mode: the whole system (Redis, nginx with the module, the stand-ins,
# caresync-worker) started, the seed's four payloads posted and followed
# to their final status, a search of the "Sync to Hint" box, the console,
# the worker's and the edge's metrics scraped and a job's trace shown,
# everything stopped.  Exit 0 only if every payload ended as expected.
# About 3 s once the module and the worker are built.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Time::HiRes qw(time);
use File::Temp qw(tempdir);

my $root = abs_path(dirname(__FILE__) . '/../..');

# `make test-sanitize` runs the suites with an instrumented nginx and
# module; the demo runs the stock nginx with build/: `make test` covers it.
plan skip_all => 'the demo runs the stock nginx with build/ (make test)'
    if ($ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx') ne '/usr/sbin/nginx'
       || ($ENV{TEST_NGINX_LOAD_MODULES} // '') =~ m{/build-san/};

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub open_port {
    my ($p) = @_;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p,
                                 Proto => 'tcp', Timeout => 1) ? 1 : 0;
}

my %ports = (PORT => free_port(), REDIS_PORT => free_port(),
             FAKE_PORT => free_port(), METRICS_PORT => free_port());

# a make above us (make test) must not pass its variables down
delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES LD_PRELOAD)};
local @ENV{keys %ports} = values %ports;
local $ENV{RUN_ONCE} = 1;
# its own directory: a `make run` of someone else's keeps build/run
local $ENV{RUN_DIR} = tempdir('demo-XXXXXX', TMPDIR => 1, CLEANUP => 1);

my $t0 = time;
my $out = '';
my $pid = open(my $fh, '-|') // die "fork: $!";
if ($pid == 0) {
    open STDERR, '>&', \*STDOUT;
    chdir $root or die;
    exec 'make', '--no-print-directory', 'run' or die "exec make: $!";
}
eval {
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 120;
    local $/;
    $out = <$fh> // '';
    alarm 0;
};
if ($@) { kill 'TERM', $pid; diag 'RUN_ONCE=1 make run did not end in 120 s' }
close $fh;
my $rc = $? >> 8;
my $took = time - $t0;

is($rc, 0, 'RUN_ONCE=1 make run exits 0') or diag $out;
note sprintf('took %.1f s', $took);

my @blocks = split /\n(?=\d\. )/, $out;
my %want = ('HelpAround enrollment' => [200, 'created'],
            'HelpAround user action' => [200, 'updated'],
            'Hint patient.updated' => [200, 'updated'],
            'CRM "Sync from HealthSherpa"' => [202, 'matched']);
for my $title (sort keys %want) {
    my ($b) = grep { /^\d\. \Q$title\E/ } @blocks;
    ok($b, "$title: reported") or next;
    my ($code, $status) = @{ $want{$title} };
    like($b, qr/^   answer   $code /m, "... answered $code");
    like($b, qr/^   job      [0-9A-Z]{26}  \S+/m, '... a job id and type');
    like($b, qr/^   status   $status\b/m, "... final status $status");
    like($b, qr/^   contact  003\w{15} /m, '... the resulting contact');
}
my ($search) = grep { /^\d\. CRM "Sync to Hint" search box/ } @blocks;
ok($search, 'the search box: reported');
like($search // '', qr/^   answer   200 \[\{"id":"pat-[^"]+","first_name":"Maria","last_name":"Lopez","dob":"1958-04-12"\}\]$/m,
     '... the Hint patient, with id, names and birth date only');
like($search // '', qr/^   logs     the name is in neither of nginx's logs$/m,
     '... the name in neither of nginx\'s logs');
my ($console) = grep { /^\d\. The console/ } @blocks;
like($console // '', qr/^   page     200 caresync console$/m, 'the console: its page');
like($console // '', qr/^   no token 401$/m, '... 401 without the token');
like($console // '', qr/^   dlq      200 \{"entries":\[/m, '... the dead letters with it');
like($out, qr{^  console          http://127\.0\.0\.1:\d+/console/   \(token: demo-console-token\)$}m,
     'make run prints the console\'s URL');
like($out, qr{^  worker metrics   http://127\.0\.0\.1:$ports{METRICS_PORT}/metrics$}m,
     'make run prints the worker\'s metrics URL');
my ($seen) = grep { /^\d\. Metrics and a trace/ } @blocks;
like($seen // '', qr/^   worker   200, \d+ metrics; [4-9] jobs finished, [1-9]\d* vendor calls$/m,
     'the worker\'s metrics, scraped: the jobs and their vendor calls');
like($seen // '', qr/^   edge     200, \d+ metrics; [1-9]\d* requests$/m,
     '... and the edge\'s');
like($seen // '', qr/^   trace    [0-9a-f]{32}: [0-9A-Z]{26}, [1-9]\d* vendor calls in its timeline$/m,
     'a job\'s trace id and its timeline\'s vendor calls');
like($out, qr/5 files attached/, 'the enrollment\'s media attached');
like($out, qr/Last_Tracker_View_At__c=2021-08-23T08:45:24\.000\+0000/,
     'the tracker view on the contact');
like($out, qr/HealthSherpa_Contact_Id__c=0f8b6a52-5b0e-4c43-9b1e-2f3c9a1d7e55/,
     'the HealthSherpa id on the contact');
like($out, qr/^Try more by hand$/m, 'how to try more by hand');
like($out, qr/^Every payload ended as expected\.$/m, 'the verdict');
unlike($out, qr/^   !!/m, 'no unexpected outcome');

# everything stopped
is(join(',', grep { open_port($ports{$_}) } sort keys %ports), '',
   'nothing listens on the demo\'s ports any more');

done_testing();
