# Enrollment media (sync-rules.md §A step 2, issue 5 point 4) and the
# HealthSherpa enrichment (point 5): each media id fetched with the API key
# and attached as a ContentVersion on the contact exactly once, also when
# a fetch or an attach fails and the job is retried, and when the job is
# replayed; a refused key fails the job without blocking the contact; a
# healthsherpa.sync job for the contact is queued after a write.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;
use Caresync::Enrollment;

my $env = start_env();
my $J = JSON::PP->new->canonical->utf8;
my $final = [qw(created updated skipped failed no_match)];
my @media = media_ids();

my %media_conf = (
    'helparound.media_url_template' => "$env->{fake}/helparound/media/{id}",
    'helparound.api_key' => 'fake-ha-key');

sub files_of {
    my ($cid) = @_;
    return [ grep { ($_->{FirstPublishLocationId} // '') eq $cid }
             @{ fake_get('/__fake/salesforce/content_versions') } ];
}

sub fetches {
    my ($id) = @_;
    return scalar grep { $_->{path} =~ /\Q$id\E$/ }
                  @{ fake_get('/__fake/requests?app=helparound') };
}

# ---- a failed fetch and a failed attach: retried, still once each ----
fake_post('/__fake/inject', [
    { app => 'helparound', path => "/media/$media[0]\$", times => 1,
      status => 503, body => 'busy' },
    { app => 'salesforce', method => 'POST', path => '/ContentVersion',
      times => 1, status => 500,
      json => [{ message => 'boom', errorCode => 'UNKNOWN_EXCEPTION' }] } ]);
my $pid = start_worker(write_config(%media_conf,
                                    'helparound.enrich_with_healthsherpa'
                                    => 'on'));
my $job = enrollment_job(source_id => 'ha-media');
my $j = seed_job($job);
my $st = wait_status($j, $final, 20);
is($st->{status}, 'updated', 'media failures retried, then updated')
    or diag explain $st;
cmp_ok($st->{attempts}, '>=', 2, '... on a later attempt');
my $cid = $st->{crm_contact_id};
ok($cid, '... naming the contact');
my $files = files_of($cid);
is(scalar @$files, 5, 'five files on the contact');
my %n;
$n{ ($_->{data} =~ /^\x89PNG\r\n\x1a\n(.*)$/s)[0] }++ for @$files;
is_deeply(\%n, { map { $_ => 1 } @media }, '... each media exactly once');
is(fetches($media[0]), 2, 'the failed fetch was tried again');
my $ups = sf_requests(method => 'PATCH', path => qr{HelpAround_Patient_Id__c/ha-media$});
is(scalar @$ups, 1, 'the contact was written once (the retry compared)');

# the enrichment: a healthsherpa.sync for the contact, in the job format
my $hs = wait_for(sub { my $s = job_status("$j-hs"); $s->{type} && $s }, 10);
is($hs && $hs->{type}, 'healthsherpa.sync', 'a healthsherpa.sync job queued');
my $log = do { local $/; open my $fh, '<', "$env->{dir}/worker.log"; <$fh> };
like($log, qr/healthsherpa\.sync queued job_id=\Q$j\E-hs contact=\Q$cid\E/,
     '... for that contact');

# ---- the job replayed: nothing fetched, nothing attached, no enrichment ----
my $before = scalar @{ fake_get('/__fake/requests?app=helparound') };
$job->{id} = "$j-replay";
seed_job($job);
$st = wait_status("$j-replay", $final);
is($st->{status}, 'skipped', 'replayed: skipped') or diag explain $st;
is(scalar @{ fake_get('/__fake/requests?app=helparound') }, $before,
   '... no media fetched');
is(scalar @{ files_of($cid) }, 5, '... no file attached twice');
ok(!job_status("$j-replay-hs")->{type}, '... no enrichment for a skip');
is(redis()->cmd('SCARD', "{caresync}:media:$cid"), 5,
   'the attached media ids are recorded per contact');

# ---- the same media on another contact are that contact's files ----
$j = seed_job(enrollment_job(source_id => 'ha-media-2'));
$st = wait_status($j, $final);
is($st->{status}, 'created', 'another patient: created') or diag explain $st;
is(scalar @{ files_of($st->{crm_contact_id}) }, 5, '... with its own files');

# ---- media ids that are not one path segment: never fetched ----
# (`..` would make the request, API key and all, go to the parent path)
$before = scalar @{ fake_get('/__fake/requests?app=helparound') };
$j = seed_job(enrollment_job(source_id => 'ha-media-dots', insurance => {
    primary => { carrier => 'test', front_image_id => '..',
                 back_image_id => '.' },
    secondary => { carrier => 'test2',
                   front_image_id => '../../services/data/v60.0/limits',
                   back_image_id => $media[3] } }));
$st = wait_status($j, $final);
is($st->{status}, 'failed', 'media ids `..`, `.`, `../x`: failed')
    or diag explain $st;
is($st->{attempts}, 1, '... not retried (permanent)');
like($st->{message}, qr/^the HelpAround media id \(insurance_front\) is not a usable id/,
     '... naming the field');
unlike($st->{message}, qr/\.\.|services/, '... not the value');
ok($st->{crm_contact_id}, '... the contact is written');
is(scalar @{ files_of($st->{crm_contact_id}) }, 2,
   '... with the two good media attached');
my @got = @{ fake_get('/__fake/requests?app=helparound') }[$before .. $#{
    fake_get('/__fake/requests?app=helparound') }];
is(scalar @got, 2, 'HelpAround asked for the two good media only');
is(scalar(grep { $_->{path} !~ m{^/helparound/media/[0-9a-f-]{36}$} } @got), 0,
   '... each on its own path under the template')
    or diag explain [ map { $_->{path} } @got ];
stop_worker($pid, 'TERM');

# ---- a refused API key: the contact is written, the job fails ----
my $badkey = write_config(%media_conf, 'helparound.api_key' => 'wrong-key');
$pid = start_worker($badkey);
$j = seed_job(enrollment_job(source_id => 'ha-badkey'));
$st = wait_status($j, $final);
is($st->{status}, 'failed', 'media key refused: failed') or diag explain $st;
like($st->{message}, qr/check helparound\.api_key/, '... says what to fix');
ok($st->{crm_contact_id}, '... but the contact was written');
is(scalar @{ files_of($st->{crm_contact_id}) }, 0, '... with no file');
no_phi_in_log(name => 'the API key is never logged',
              files => ["$env->{dir}/worker.log"], stream => $badkey,
              jobs => [$j], pattern => qr/wrong-key|fake-ha-key/);

# ---- media not configured: none fetched ----
stop_worker($pid, 'TERM');
$before = scalar @{ fake_get('/__fake/requests?app=helparound') };
$pid = start_worker(write_config());
$j = seed_job(enrollment_job(source_id => 'ha-nomedia'));
$st = wait_status($j, $final);
is($st->{status}, 'created', 'no media template: created');
is(scalar @{ fake_get('/__fake/requests?app=helparound') }, $before,
   '... no media fetched');

is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');
done_testing();
