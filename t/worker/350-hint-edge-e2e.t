# The whole path for Hint (seed 002, "When changes are made in Hint Health
# to a Patient, those changes are reflected in the Salesforce Contact"):
# the fixture's patient.updated posted to nginx (signed) -> the edge's
# hint.patient job -> the worker -> the linked contact in the fake
# Salesforce.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Digest::SHA qw(hmac_sha256_hex);
use Caresync::Worker;
use Caresync::Hint;

my $env = start_env();
my $dir = $env->{dir};
# nginx refuses a secret file that group or others may read
open my $kf, '>', "$dir/hint.key" or die;
print $kf "whsec-test-key\n";
close $kf;
chmod 0600, "$dir/hint.key" or die "$dir/hint.key: $!";
my $port = start_nginx(<<"LOC");
location = /webhook/hint {
            caresync_webhook         hint;
            caresync_hmac_signature  key=file:$dir/hint.key;
        }
LOC
plan skip_all => 'nginx or the module is not built (make module)'
    unless $port;

my $path = ($ENV{CARESYNC_FIXTURES}
            // Caresync::Worker::root() . '/../shared/fixtures')
           . '/hint/patient.updated.json';
my $body = do { local $/; open my $fh, '<', $path or die "$path: $!"; <$fh> };
my $pid_hint = JSON::PP->new->decode($body)->{object}{id};

seed_patients(fixture_patient(id => $pid_hint));
my ($cid) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Maria', LastName => 'Lopez', Birthdate => '1958-04-12',
      Email => 'old@example.org',
      Synced_To_Hint__c => JSON::PP::true, Hint_Patient_Id__c => $pid_hint },
]) };

my $res = HTTP::Tiny->new(timeout => 10)->post(
    "http://127.0.0.1:$port/webhook/hint",
    { content => $body,
      headers => { 'Content-Type' => 'application/json',
                   'X-Hint-Signature' => 'sha256='
                       . hmac_sha256_hex($body, 'whsec-test-key') } });
is($res->{status}, 200, 'nginx accepted the signed event')
    or diag $res->{content};

my $entries = redis()->cmd('XRANGE', '{caresync}:jobs', '-', '+');
is(scalar @$entries, 1, 'one job in the stream');
my %f = @{ $entries->[0][1] };
my $job = JSON::PP->new->decode($f{job});
is($job->{type}, 'hint.patient', 'a hint.patient job');

my $wpid = start_worker(write_config());
my $st = wait_status($job->{id}, [qw(updated skipped failed no_match)]);
is($st->{status}, 'updated', 'the linked contact updated')
    or diag explain $st, $job;
is($st->{crm_contact_id}, $cid, 'that contact');
is(sf_contacts()->{$cid}{Email}, 'maria.lopez@example.org',
   'the patient\'s email on the contact (patient wins)');
is(stop_worker($wpid), 0, 'worker exits cleanly');
done_testing();
