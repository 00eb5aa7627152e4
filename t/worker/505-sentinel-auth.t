# Sentinel with passwords everywhere, as production has them: the data
# nodes require redis.password, the sentinels their own
# (redis.sentinel_password, `requirepass` in sentinel.conf).  The worker
# finds the primary and works; a wrong sentinel password is said, per
# sentinel, and the worker waits instead of guessing; neither password
# is ever written to the log.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX ();
use Caresync::Worker;
use Caresync::RedisTopology;

plan skip_all => 'redis-sentinel is not installed (.ci/install-deps test)'
    unless grep { -x "$_/redis-sentinel" } split /:/, $ENV{PATH};

my ($data_pw, $sent_pw) = ('data-Pw-7f3a91', 'sentinel-Pw-2c8e44');
my $env = start_env();
my $set = start_sentinel_set(dir => $env->{dir}, password => $data_pw,
                             sentinel_password => $sent_pw);
redis_at($set->{primary}{port});
is(redis()->cmd('AUTH', $data_pw), 'OK', 'the data nodes require a password');
like(rcli({ port => $set->{sentinels}[0]{port} }, 'PING'), qr/NOAUTH/,
     'so do the sentinels');

fake_post('/__fake/salesforce/contacts', [
    map { { LastName => "P$_", HelpAround_Patient_Id__c => "ha-pw$_" } }
    1 .. 3 ]);
$ENV{CW_TEST_SENTINEL_PW} = $sent_pw;
my %o = ('redis.sentinels' => $set->{sentinel_list},
         'redis.master_name' => $set->{master_name},
         'redis.password' => $data_pw,
         'redis.sentinel_password_env' => 'CW_TEST_SENTINEL_PW',
         'redis.timeout_ms' => 1000);
my ($pid, $log) = start_worker(write_config(%o), 'auth');
my @jobs = map { seed_job(user_action_job(source_id => "ha-pw$_")) } 1 .. 3;
is(scalar(grep { (wait_status($_, [qw(updated failed)])->{status} // '')
                 eq 'updated' } @jobs), 3,
   'both passwords: jobs flow through the sentinels');
is(stop_worker($pid, 'TERM'), 0, 'clean exit');

$ENV{CW_TEST_SENTINEL_PW} = 'not-the-sentinel-pw';
my ($rc, $out, $err) = worker_cmd(write_config(%o), 'check');
like("$out$err", qr/redis: FAIL no sentinel knows the primary of "cs-primary":(?#
                    ) sentinel 127\.0\.0\.1:\d+: AUTH: WRONGPASS/,
     'a wrong sentinel password: said, per sentinel');
my @said = "$out$err" =~ /sentinel 127\.0\.0\.1:\d+: AUTH/g;
is(scalar @said, 3, '... every sentinel tried once');

my $text = do { local $/; open my $fh, '<', $log; <$fh> };
like($text, qr/job done job_id=\Q$jobs[0]\E/, 'the log has the jobs\' lines');
unlike("$text$out$err", qr/\Q$data_pw\E|\Q$sent_pw\E|not-the-sentinel-pw/,
       'no password in the log or the output');

done_testing();
