# The whole path of a HelpAround enrollment (sync-rules.md §A): the seed's
# fixture posted to nginx (the module) -> {caresync}:jobs -> the worker ->
# a created contact in the fake Salesforce with every mapped field right,
# the media attached as Files; a second enrollment writes only what
# changed; a replay of the same job writes nothing.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Caresync::Worker;

my $env = start_env();
my $port = start_nginx(
    'location = /webhook/user-enrollment '
    . '{ caresync_webhook helparound_enrollment; caresync_auth off; }');
plan skip_all => 'nginx or the module is not built (make module)'
    unless $port;

my $fixture = fixture_text('helparound/enrollment.json');
my $J = JSON::PP->new->canonical->utf8;

sub post_enrollment {
    my ($body) = @_;
    my $res = HTTP::Tiny->new(timeout => 10)->post(
        "http://127.0.0.1:$port/webhook/user-enrollment",
        { content => $body,
          headers => { 'Content-Type' => 'application/json' } });
    is($res->{status}, 200, 'nginx accepted the enrollment')
        or diag $res->{content};
}

# the newest job in the stream (the worker deletes what it acknowledged)
sub last_job {
    my $e;
    wait_for(sub { $e = redis()->cmd('XREVRANGE', '{caresync}:jobs', '+',
                                     '-', 'COUNT', 1);
                   ref $e eq 'ARRAY' && @$e }) or die 'no job in the stream';
    my %f = @{ $e->[0][1] };
    return ($J->decode($f{job}), $f{job});
}

my $conf = write_config(
    'helparound.media_url_template' => "$env->{fake}/helparound/media/{id}",
    'helparound.api_key' => 'fake-ha-key');

# ---- 1. the fixture: a new contact ----
post_enrollment($fixture);
my ($job, $raw) = last_job();
is($job->{type}, 'helparound.enrollment', 'an enrollment job');

my $pid = start_worker($conf);
my $st = wait_status($job->{id}, [qw(created updated skipped failed)]);
is($st->{status}, 'created', 'status record: created') or diag explain $st;
my $cid = $st->{crm_contact_id};
like($cid // '', qr/^003\w{12}(\w{3})?$/, '... naming the contact');

my $up = sf_requests(method => 'PATCH',
                     path => qr{/sobjects/Contact/HelpAround_Patient_Id__c/});
is(scalar @$up, 1, 'one upsert by HelpAround_Patient_Id__c');
like($up->[0]{path}, qr{/ha61236024160af$}, '... keyed by the patient id');
ok(!exists $J->decode($up->[0]{body})->{HelpAround_Patient_Id__c},
   '... the key is in the URL, not repeated in the body');

my $c = sf_contacts()->{$cid};
my %want = (
    HelpAround_Patient_Id__c => 'ha61236024160af',
    FirstName => 'John', LastName => 'Doe', Birthdate => '2021-03-01',
    GenderIdentity => 'Male', Email => 'test@gmail.com',
    MobilePhone => '+12027953213',
    MailingStreet => "test\n12", MailingCity => 'test', MailingState => 'AL',
    MailingPostalCode => '12345', MailingCountry => 'US',
    HelpAround_Language__c => 'English',
    HelpAround_Contact_Method__c => 'Phone',
    HelpAround_Call_Time__c => 'Morning',
    HelpAround_Caregiver_Name__c => 'test',
    HelpAround_Caregiver_Relationship__c => 'Parent',
    HelpAround_Caregiver_Phone__c => '+12027953213',
    HelpAround_Caregiver_Email__c => 'test@gmail.com',
    Insurance_Payer__c => 'test', Insurance_Member_Id__c => '123',
    Insurance_Group_Id__c => 'ds43',
    HelpAround_Insurance_Card_Name__c => 'test',
    HelpAround_Insurance_Card_Birthdate__c => '2021-03-01',
    HelpAround_Insurance_Front_Id__c => '7b20a933-9292-41e4-91ea-59eba72f2221',
    HelpAround_Insurance_Back_Id__c => 'eb6f8886-11e0-4339-801a-ee645351042b',
    HelpAround_Secondary_Status__c => 'active',
    HelpAround_Secondary_Payer__c => 'test2',
    HelpAround_Secondary_Member_Id__c => '234234',
    HelpAround_Secondary_Group_Id__c => 'hg89',
    HelpAround_Secondary_Card_Name__c => 'test2',
    HelpAround_Secondary_Card_Birthdate__c => '2021-03-01',
    HelpAround_Secondary_Front_Id__c => 'fc497e96-9f09-4c2a-a964-89c6f7473f4d',
    HelpAround_Secondary_Back_Id__c => '5405ec11-c9d0-4279-82db-2f70f959b904',
    HelpAround_Consent_Communication__c => JSON::PP::true,
    HelpAround_Consent_Communication_At__c => '2021-03-01T00:00:00.000+0000',
    HelpAround_Consent_Share_PHI__c => JSON::PP::true,
    HelpAround_Consent_Share_PHI_At__c => '2021-03-01T00:00:00.000+0000',
    HelpAround_Signature_At__c => '2021-03-01T00:00:00.000+0000',
    HelpAround_Signature_Id__c => '85219935-52b6-41a4-82ca-2f32ed709e5c',
);
for my $f (sort keys %want) {
    is_deeply($c->{$f}, $want{$f}, "$f")
        or diag "job patient: " . $J->encode($job->{patient});
}

# ---- media: five Files on the contact, each once ----
my $cv = fake_get('/__fake/salesforce/content_versions');
is(scalar @$cv, 5, 'five media attached as ContentVersion');
is_deeply([ sort map { $_->{FirstPublishLocationId} } @$cv ],
          [ ($cid) x 5 ], '... all published to the contact');
my %byid = map { ($_->{data} =~ /^\x89PNG\r\n\x1a\n(.*)$/s)[0] => $_ } @$cv;
is_deeply([ sort keys %byid ],
          [ sort qw(7b20a933-9292-41e4-91ea-59eba72f2221
                    eb6f8886-11e0-4339-801a-ee645351042b
                    fc497e96-9f09-4c2a-a964-89c6f7473f4d
                    5405ec11-c9d0-4279-82db-2f70f959b904
                    85219935-52b6-41a4-82ca-2f32ed709e5c) ],
          '... the bytes HelpAround served, one file per media id');
like($byid{'85219935-52b6-41a4-82ca-2f32ed709e5c'}{PathOnClient},
     qr/^helparound-signature-85219935-.*\.png$/, '... named by kind, .png');
my $media = fake_get('/__fake/requests?app=helparound');
is(scalar @$media, 5, 'five media fetched');
is($media->[0]{api_key}, 'fake-ha-key', '... with the API key header');

# ---- 2. a second enrollment: only what changed is written ----
my $second = $J->decode($fixture);
$second->{event}{sendDate} = '2021-08-24T09:00:00.000Z';
$second->{event}{patient}{email} = 'John.New@Example.org ';
$second->{event}{patient}{call_time} = 'Evening';
$second->{event}{patient}{caregiver}{email} = '';          # empty: kept
delete $second->{event}{patient}{gender};                   # absent: kept
# a member nobody reads, large enough that the edge leaves the raw copy
# out of the job (caresync_max_raw): the worker must not need it
$second->{padding} = 'x' x 70_000;
# (the worker is stopped meanwhile so that the job can be read from the
# stream before it is done and deleted)
is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');
my $before = scalar @{ sf_requests() };
post_enrollment($J->encode($second));
my ($job2, $raw2) = last_job();
isnt($job2->{id}, $job->{id}, 'a new job');
ok(!exists $job2->{raw} && ($job2->{raw_omitted} // '') eq 'too_large',
   '... whose raw copy was left out as too large');
$pid = start_worker($conf);
$st = wait_status($job2->{id}, [qw(created updated skipped failed)]);
is($st->{status}, 'updated', 'second enrollment: updated') or diag explain $st;
is($st->{crm_contact_id}, $cid, '... the same contact');

my @new = @{ sf_requests() }[$before .. $#{ sf_requests() }];
my @patch = grep { $_->{method} eq 'PATCH' } @new;
is(scalar @patch, 1, 'one PATCH');
like($patch[0]{path}, qr{/sobjects/Contact/$cid$}, '... of that contact');
is_deeply($J->decode($patch[0]{body}),
          { Email => 'john.new@example.org',
            HelpAround_Call_Time__c => 'Evening' },
          '... with only the changed fields');
$c = sf_contacts()->{$cid};
is($c->{HelpAround_Caregiver_Email__c}, 'test@gmail.com',
   'an empty value did not erase');
is($c->{GenderIdentity}, 'Male', 'an absent value did not erase');
is(scalar @{ fake_get('/__fake/salesforce/content_versions') }, 5,
   'no media attached twice');
is(scalar @{ fake_get('/__fake/requests?app=helparound') }, 5,
   '... nor fetched again');

# ---- 3. the same job replayed (as `dlq replay` or a reclaim would) ----
$before = scalar @{ sf_requests() };
redis()->cmd('XADD', '{caresync}:jobs', '*', 'job', $raw2);
Caresync::Worker::wait_for(
    sub { (job_status($job2->{id})->{attempts} // 0) >= 2 }, 10);
$st = wait_status($job2->{id}, [qw(created updated skipped failed)]);
is($st->{status}, 'skipped', 'the same enrollment again: skipped')
    or diag explain $st;
like($st->{message}, qr/nothing written/, '... says nothing was written');
@new = @{ sf_requests() }[$before .. $#{ sf_requests() }];
is_deeply([ grep { $_->{method} ne 'GET' } @new ], [], '... no write at all');
is(scalar @{ fake_get('/__fake/salesforce/content_versions') }, 5,
   '... no media attached again');

is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');

# no PHI in the worker's log (stderr and the stream) of those jobs
no_phi_in_log(name => 'no names, emails, phones, zips or member ids',
              files => ["$env->{dir}/worker.log"], stream => $conf,
              jobs => [ $job->{id}, $job2->{id} ],
              pattern => qr/John|Doe|test\@gmail|2027953213|12345|ds43/);

done_testing();
