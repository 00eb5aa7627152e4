# The configuration file: errors named with file and line, secrets from
# the environment or files, CARESYNC_<SECTION>_<KEY> overrides; the CLI.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Caresync::Worker;

my $env = start_env();

sub conf_text {
    my ($text) = @_;
    my $p = "$env->{dir}/raw.conf";
    open my $fh, '>', $p or die;
    print $fh $text;
    close $fh;
    return $p;
}

my ($rc, $out, $err) = worker_cmd(conf_text(<<"C"), 'check');
[redis]
port = $env->{redis_port}
colour = blue
[worker]
concurrency = 0
max_attempts = many
[salesforce]
login_url = $env->{fake}
client_id = x
client_secret_env = CW_TEST_UNSET_VARIABLE
[nosuch]
key = 1
this line has no equals sign
C
is($rc, 1, 'bad config: exit 1');
like($err, qr/raw.conf:3: unknown key `colour` in \[redis\]/, 'unknown key, with line');
like($err, qr/raw.conf:5: worker.concurrency must be an integer in 1\.\.4096/,
     'out of range');
like($err, qr/raw.conf:6: worker.max_attempts must be an integer/, 'not a number');
like($err, qr/client_secret_env names CW_TEST_UNSET_VARIABLE, which is not set/,
     'unset secret variable');
like($err, qr/raw.conf:12: unknown key `key` in \[nosuch\]/, 'unknown section');
like($err, qr/raw.conf:13: expected `key = value`/, 'syntax error');

($rc, $out, $err) = worker_cmd("$env->{dir}/missing.conf", 'check');
is($rc, 1, 'missing file: exit 1');
like($err, qr/missing.conf: cannot open/, '... named');

# a wrong secret in the file, the right one from the environment
my $c = write_config('salesforce.client_secret_env' => undef,
                     'salesforce.client_secret' => 'wrong');
{
    local $ENV{CARESYNC_SALESFORCE_CLIENT_SECRET} = 'fake-client-secret';
    ($rc, $out, $err) = worker_cmd($c, 'check');
}
is($rc, 0, 'CARESYNC_SALESFORCE_CLIENT_SECRET overrides the file')
    or diag "$out$err";
($rc, $out) = worker_cmd($c, 'check');
is($rc, 1, '... and without it the wrong one fails');
like($out, qr/salesforce: FAIL Salesforce OAuth \(client_credentials\) refused: HTTP 400 invalid_client/,
     '... with a clear message');
unlike("$out$err", qr/wrong|fake-client-secret/, 'secrets never printed');

# auth-specific requirements
my $bad = write_config('salesforce.auth' => 'jwt');
($rc, $out, $err) = worker_cmd($bad, 'check');
like($err, qr/salesforce.username and salesforce.private_key_file are required/,
     'jwt needs a user and a key');

# the CLI
($rc, $out, $err) = worker_cmd($c, 'frobnicate');
is($rc, 2, 'unknown command: exit 2');
like($err, qr/unknown command `frobnicate`/, '... named');
for my $cmd (qw(run check jobs dlq log)) {
    ($rc, $out) = worker_cmd($c, $cmd, '--help');
    like($out, qr/^usage: caresync-worker $cmd/, "$cmd --help");
}
($rc, $out, $err) = worker_cmd($c, 'dlq', 'explode');
is($rc, 2, 'dlq with a bad subcommand: usage, exit 2');
($rc, $out, $err) = worker_cmd($c, 'log', '--since', 'yesterday');
is($rc, 2, 'log --since with a bad time: exit 2');

# the log stream is capped
my $small = write_config('worker.log_maxlen' => 100,
                         'worker.concurrency' => 32);
fake_post('/__fake/salesforce/contacts',
          [{ LastName => 'X', HelpAround_Patient_Id__c => 'ha-log' }]);
my @ids = map { seed_job(user_action_job(source_id => 'ha-log',
                                         at => sprintf('2026-11-21T10:%02d:00Z', $_ % 60))) }
          1 .. 300;
my $pid = start_worker($small);
ok(wait_for(sub { redis()->cmd('XLEN', '{caresync}:jobs') == 0 }, 30),
   '300 jobs done');
stop_worker($pid, 'TERM');
my $len = redis()->cmd('XLEN', '{caresync}:log');
ok($len < 400, "log stream capped near log_maxlen=100 ($len entries for "
               . "600+ lines)");

done_testing();
