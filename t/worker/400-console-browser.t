# The console as its users see it (docs/operations.md, "The console"): a
# real browser (Debian's chromium, driven by playwright-core from
# t/browser) on the stock nginx with the module, Redis, the fakes and the
# worker.  A wrong token is told 401; a batch queued before the worker
# runs is seen at 0 % and its bar moves to 100 % by itself once the worker
# is started; a dead letter's replay ends in a finished job; a job is
# looked up; the sync log shows the job's lines.  Screenshots:
# build/console-*.png.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);
use Caresync::Worker;

my $root = Caresync::Worker::root();
my $chromium = $ENV{CHROMIUM} || '/usr/bin/chromium';
my $pw = "$root/t/browser/node_modules/playwright-core/package.json";

# what .ci/install-deps test installs: missing is a failure, not a skip
unless (-x $chromium && -f $pw) {
    fail("chromium ($chromium) and playwright-core ($pw) are installed");
    diag('run: bash .ci/install-deps test');
    done_testing();
    exit;
}

my $env = start_env();
my $J = JSON::PP->new->canonical;
my $fixtures = $ENV{CARESYNC_FIXTURES} // "$root/../shared/fixtures";
my $hs = do { local $/;
              open my $fh, '<', "$fixtures/healthsherpa/search-match.json"
                  or die; $J->decode(<$fh>)->{data}{contact} };
fake_post('/__fake/healthsherpa/contacts', [ $hs ]);
fake_post('/__fake/salesforce/contacts', [
    { Id => '003Hs00001AbCdEIAV', FirstName => 'John', LastName => 'Doe',
      Birthdate => '1955-03-01' },
    { Id => '003Hs00001XyZwVIAV', FirstName => 'Maria', LastName => 'Lopez',
      Email => 'maria@example.org' },
    { LastName => 'One', HelpAround_Patient_Id__c => 'ha-100' } ]);

my $conf = write_config();
my $token = 'console-test-t0ken';
my $port = start_nginx(<<"LOC");
        location /console/ {
            caresync_console;
            caresync_api_token $token;
        }
LOC
ok($port, 'nginx with a console location') or BAIL_OUT('no nginx');

# a dead letter whose job will succeed once replayed
my $job = user_action_job(source_id => 'ha-100');
my $dead = $job->{id};
redis()->cmd('XADD', '{caresync}:dead', '*', job_id => $dead,
             type => $job->{type}, attempts => 3,
             failed_at => int(time * 1000),
             error => 'Salesforce answered HTTP 503 three times',
             job => $J->encode($job));
redis()->cmd('HSET', "{caresync}:job:$dead", status => 'failed',
             type => $job->{type}, attempts => 3,
             last_error => 'Salesforce answered HTTP 503 three times');

# a batch queued while no worker runs
my ($rc, $out, $err) = worker_cmd($conf, 'batch', 'healthsherpa', '--csv',
                                  "$fixtures/salesforce/report-export.csv");
my ($batch) = $out =~ /^batch (\S+) queued: 2 contacts/m;
ok($batch, 'a batch of two contacts queued') or diag "$out$err";

my $shots = "$root/build";
mkdir $shots;
unlink glob "$shots/console-*.png";
my $ready = "$env->{dir}/batch-seen";
my $nodelog = "$env->{dir}/browser.log";

local $ENV{CONSOLE_URL} = "http://127.0.0.1:$port/console/";
local $ENV{CONSOLE_TOKEN} = $token;
local $ENV{DEAD_JOB} = $dead;
local $ENV{BATCH} = $batch;
local $ENV{READY} = $ready;
local $ENV{SHOTS} = $shots;
local $ENV{CHROMIUM} = $chromium;
local $ENV{NODE_PATH} = "$root/t/browser/node_modules";
my $node = Caresync::Worker::spawn($nodelog, 'node',
                                   "$root/t/browser/console.test.js");

# the worker starts once the page has seen the batch unfinished
ok(wait_for(sub { -e $ready || waitpid($node, WNOHANG) != 0 }, 60),
   'the page saw the batch before the worker ran');
my $worker = start_worker($conf) if -e $ready;

my $deadline = time + 180;
my $status;
while (time < $deadline) {
    my $w = waitpid($node, WNOHANG);
    if ($w == $node) { $status = $?; last }
    sleep 0.1;
}
unless (defined $status) { kill 'TERM', $node; waitpid($node, 0); }

open my $fh, '<', $nodelog or die "$nodelog: $!";
my $checks = 0;
while (my $line = <$fh>) {
    my $r = eval { $J->decode($line) };
    unless (ref $r eq 'HASH') { diag($line); next }
    if (defined $r->{note}) { note($r->{note}); next }
    $checks++;
    ok($r->{ok}, "browser: $r->{name}")
        or diag(ref $r->{detail} ? $J->encode($r->{detail})
                                 : $r->{detail} // '');
}
close $fh;

ok($checks >= 20, "the browser made its checks ($checks)");
is($status, 0, 'the browser run ended with status 0');
for my $s (qw(401 batch dlq lookup contact log)) {
    ok(-s "$shots/console-$s.png", "screenshot build/console-$s.png");
}

is(job_status($dead)->{status}, 'updated', 'the replayed job updated the contact');
is(redis()->cmd('XLEN', '{caresync}:dead'), 0, 'no dead letter left');

done_testing();
