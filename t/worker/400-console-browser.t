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

my $env = start_env();
seed_report_export({ LastName => 'One', HelpAround_Patient_Id__c => 'ha-100' });

my $token = 'console-test-t0ken';
my $port = start_nginx(<<"LOC");
        location /console/ {
            caresync_console;
            caresync_api_token $token;
        }
LOC
ok($port, 'nginx with a console location') or BAIL_OUT('no nginx');
# written after start_nginx: the edge's key is in its [crypto] keys, as
# the worker opens what the edge seals (the console's ops jobs too)
my $conf = write_config();

# a dead letter whose job will succeed once replayed
my $job = user_action_job(source_id => 'ha-100');
my $dead = $job->{id};
redis()->cmd('XADD', '{caresync}:dead', '*', job_id => $dead,
             type => $job->{type}, attempts => 3,
             failed_at => int(time * 1000),
             error => 'Salesforce answered HTTP 503 three times',
             job => Caresync::Worker::seal_job($job));
redis()->cmd('HSET', "{caresync}:job:$dead", status => 'failed',
             type => $job->{type}, attempts => 3,
             last_error => 'Salesforce answered HTTP 503 three times');

# a batch queued while no worker runs
my ($rc, $out, $err) = worker_cmd($conf, 'batch', 'healthsherpa', '--csv',
                                  fixture_path('salesforce/report-export.csv'));
my ($batch) = $out =~ /^batch (\S+) queued: 2 contacts/m;
ok($batch, 'a batch of two contacts queued') or diag "$out$err";

my $shots = "$root/build";
mkdir $shots;
unlink glob "$shots/console-*.png";
my $ready = "$env->{dir}/batch-seen";

my $checks = run_browser(
    script => 'console.test.js', timeout => 180,
    env => { CONSOLE_URL => "http://127.0.0.1:$port/console/",
             CONSOLE_TOKEN => $token, DEAD_JOB => $dead, BATCH => $batch,
             READY => $ready, SHOTS => $shots },
    # the worker starts once the page has seen the batch unfinished
    during => sub {
        my ($node) = @_;
        ok(wait_for(sub { -e $ready || waitpid($node, WNOHANG) != 0 }, 60),
           'the page saw the batch before the worker ran');
        start_worker($conf) if -e $ready;
    });
ok($checks >= 20, "the browser made its checks ($checks)");
for my $s (qw(401 batch dlq lookup contact log)) {
    ok(-s "$shots/console-$s.png", "screenshot build/console-$s.png");
}

is(job_status($dead)->{status}, 'updated', 'the replayed job updated the contact')
    or diag("last_error: " . (job_status($dead)->{last_error} // "-"));
is(redis()->cmd('XLEN', '{caresync}:dead'), 0, 'no dead letter left');

done_testing();
