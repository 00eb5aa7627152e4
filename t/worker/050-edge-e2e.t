# The whole path: a HelpAround user action posted to nginx (the module)
# -> {caresync}:jobs -> the worker -> Last_Tracker_View_At__c on the
# right contact in the fake Salesforce, with an `updated` status record.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Caresync::Worker;

my $env = start_env();
my $port = start_nginx(
    'location = /webhook/user-action { caresync_webhook helparound_user_action; caresync_auth off; }');
plan skip_all => 'nginx or the module is not built (make module)'
    unless $port;

my ($cid, $other) = @{ fake_post('/__fake/salesforce/contacts', [
    { LastName => 'Edge', HelpAround_Patient_Id__c => 'ha61236024160af' },
    { LastName => 'Other', HelpAround_Patient_Id__c => 'ha-other' } ]) };

# the seed's fixture (CARESYNC_FIXTURES as for the nginx suites)
my $path = ($ENV{CARESYNC_FIXTURES}
            // Caresync::Worker::root() . '/../shared/fixtures')
           . '/helparound/user-action.json';
my $fixture = do { local $/; open my $fh, '<', $path or die "$path: $!"; <$fh> };

my $res = HTTP::Tiny->new(timeout => 10)->post(
    "http://127.0.0.1:$port/webhook/user-action",
    { content => $fixture,
      headers => { 'Content-Type' => 'application/json' } });
is($res->{status}, 200, 'nginx accepted the user action') or diag $res->{content};

my $entries = redis()->cmd('XRANGE', '{caresync}:jobs', '-', '+');
is(scalar @$entries, 1, 'one job in the stream');
my %f = @{ $entries->[0][1] };
my $job = JSON::PP->new->decode($f{job});
is($job->{type}, 'helparound.user_action', 'a user_action job');

my $pid = start_worker(write_config());
my $st = wait_status($job->{id}, [qw(updated failed no_match skipped)]);
is($st->{status}, 'updated', 'status record: updated') or diag explain $st;
is($st->{crm_contact_id}, $cid, '... naming the contact');

my $c = sf_contacts();
is($c->{$cid}{Last_Tracker_View_At__c}, '2021-08-23T08:45:24.000+0000',
   'Last_Tracker_View_At__c = the sendDate, on the right contact');
ok(!$c->{$other}{Last_Tracker_View_At__c}, 'the other contact untouched');

# the same event again is deduplicated at the edge
$res = HTTP::Tiny->new(timeout => 10)->post(
    "http://127.0.0.1:$port/webhook/user-action",
    { content => $fixture,
      headers => { 'Content-Type' => 'application/json' } });
is($res->{status}, 200, 'a duplicate delivery is answered 200');

is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');
done_testing();
