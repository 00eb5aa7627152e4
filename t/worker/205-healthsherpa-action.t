# "Sync from HealthSherpa" as a CRM user does it: POST to the actions API
# of nginx (caresync_api) -> 202 + status_url -> the worker -> the contact
# updated in the CRM -> GET status_url says `matched`.  A contact that
# HealthSherpa does not know ends `no_match` and stays as it was.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Caresync::Worker;

my $env = start_env();
my $port = start_nginx(<<'LOC');
location /caresync/ {
            caresync_api;
            caresync_api_token t0ken;
        }
LOC
plan skip_all => 'nginx or the module is not built (make module)'
    unless $port;

my $J = JSON::PP->new->canonical;
my $fx = ($ENV{CARESYNC_FIXTURES}
          // Caresync::Worker::root() . '/../shared/fixtures') . '/healthsherpa';
my $hs = do { local $/; open my $fh, '<', "$fx/search-match.json" or die;
              $J->decode(<$fh>)->{data}{contact} };
fake_post('/__fake/healthsherpa/contacts', [ $hs ]);

my ($known, $unknown) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'John', LastName => 'Doe', Birthdate => '1955-03-01' },
    { FirstName => 'Maria', LastName => 'Lopez', Birthdate => '1960-07-04' },
  ]) };

my $http = HTTP::Tiny->new(timeout => 10);
my $base = "http://127.0.0.1:$port";

sub sync {
    my ($cid) = @_;
    my $res = $http->post("$base/caresync/actions/healthsherpa-sync", {
        content => $J->encode({ contact_id => $cid,
                                agent => 'agent@example.org' }),
        headers => { 'Content-Type' => 'application/json',
                     Authorization => 'Bearer t0ken' } });
    is($res->{status}, 202, "POST healthsherpa-sync $cid: 202")
        or diag $res->{content};
    return $J->decode($res->{content});
}

# what the CRM's button polls
sub poll {
    my ($url, $want) = @_;
    my $doc;
    wait_for(sub {
        my $r = $http->get("$base$url",
                           { headers => { Authorization => 'Bearer t0ken' } });
        return 0 unless $r->{status} == 200;
        $doc = $J->decode($r->{content});
        my $s = $doc->{status} // $doc->{job}{status} // '';
        return $s eq $want || $s eq 'failed';
    }, 15);
    return $doc;
}

my $pid = start_worker(write_config());

my $a = sync($known);
ok($a->{status_url}, 'a status_url to poll');
my $doc = poll($a->{status_url}, 'matched');
my $st = $doc->{status} ? $doc : $doc->{job};
is($st->{status}, 'matched', 'GET status_url: matched') or diag explain $doc;
is($st->{message}, 'Synced from HealthSherpa', '... "Synced from HealthSherpa"');

my $c = sf_contacts();
is($c->{$known}{HealthSherpa_Contact_Id__c}, $hs->{id},
   'the contact has its HealthSherpa id');
is($c->{$known}{MailingCity}, 'Montgomery', '... and the mapped fields');

my $before = $c->{$unknown};
my $b = sync($unknown);
$doc = poll($b->{status_url}, 'no_match');
$st = $doc->{status} ? $doc : $doc->{job};
is($st->{status}, 'no_match', 'unknown contact: no_match') or diag explain $doc;
is($st->{message}, 'No matching HealthSherpa contact found', '... the message');
is_deeply(sf_contacts()->{$unknown}, $before, '... contact unchanged');

is(stop_worker($pid), 0, 'worker exits cleanly');
done_testing();
