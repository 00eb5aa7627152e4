# An enrollment against a Salesforce that misbehaves as documented: a
# revoked session (401 INVALID_SESSION_ID) is refreshed once and the job
# goes on; REQUEST_LIMIT_EXCEEDED (403) is throttling: retried, and the
# contact is created once; a validation error is not retried blindly.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Caresync::Worker;
use Caresync::Enrollment;

my $env = start_env();
my $final = [qw(created updated skipped failed no_match)];
my $pid = start_worker(write_config());

sub tokens { scalar @{ sf_requests(path => qr{/oauth2/token}) } }

# a first job gets the token
my $j = seed_job(enrollment_job(source_id => 'ha-r1'));
my $st = wait_status($j, $final);
is($st->{status}, 'created', 'first enrollment created');
is(tokens(), 1, 'one token');

# ---- 401 then a refreshed token ----
fake_post('/__fake/salesforce/revoke');
$j = seed_job(enrollment_job(source_id => 'ha-r2'));
$st = wait_status($j, $final);
is($st->{status}, 'created', 'revoked session: created after a refresh')
    or diag explain $st;
is($st->{attempts}, 1, '... in the same attempt');
is(tokens(), 2, '... with exactly one new token');
my $q401 = grep { $_->{path} =~ m{/query} }
           @{ sf_requests() };
cmp_ok($q401, '>=', 3, '... the refused query was sent again');

# ---- REQUEST_LIMIT_EXCEEDED on the upsert: retried ----
fake_post('/__fake/inject', { app => 'salesforce', method => 'PATCH',
    path => 'HelpAround_Patient_Id__c/ha-r3$', times => 1, status => 403,
    json => [{ message => 'TotalRequests Limit exceeded.',
               errorCode => 'REQUEST_LIMIT_EXCEEDED' }] });
$j = seed_job(enrollment_job(source_id => 'ha-r3'));
my $mid = wait_status($j, [qw(retrying created failed)]);
is($mid->{status}, 'retrying', 'REQUEST_LIMIT_EXCEEDED: retrying');
like($mid->{last_error}, qr/REQUEST_LIMIT_EXCEEDED/, '... saying why');
$st = wait_status($j, $final);
is($st->{status}, 'created', '... then created') or diag explain $st;
is($st->{attempts}, 2, '... on the second attempt');
is(scalar(grep { ($_->{HelpAround_Patient_Id__c} // '') eq 'ha-r3' }
            values %{ sf_contacts() }), 1, '... one contact');

# ---- a validation error on the update: failed at once ----
my ($cid) = @{ fake_post('/__fake/salesforce/contacts',
    [{ LastName => 'V', HelpAround_Patient_Id__c => 'ha-r4' }]) };
fake_post('/__fake/inject', { app => 'salesforce', method => 'PATCH',
    path => "/Contact/$cid\$", times => -1, status => 400,
    json => [{ message => 'Email: invalid email address: test@gmail.com',
               errorCode => 'INVALID_EMAIL_ADDRESS', fields => ['Email'] }] });
$j = seed_job(enrollment_job(source_id => 'ha-r4'));
$st = wait_status($j, $final);
is($st->{status}, 'failed', 'a 400 on the update: failed');
is($st->{attempts}, 1, '... not retried');
like($st->{message}, qr/INVALID_EMAIL_ADDRESS on Email/,
     '... naming the code and the field');
unlike($st->{message}, qr/test\@gmail/, '... not the value');

is(stop_worker($pid, 'TERM'), 0, 'worker exits cleanly');
done_testing();
