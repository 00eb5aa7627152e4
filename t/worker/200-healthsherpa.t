# healthsherpa.sync, one contact (sync-rules.md §B, seed 000 §3), v1:
# the search parameters built from the contact, the match mapped onto it,
# every form of "no match" leaving it untouched, the errors that must not
# be retried, and a 429 that must.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;

my $env = start_env();
my $J = JSON::PP->new->canonical;
my $fx = ($ENV{CARESYNC_FIXTURES}
          // Caresync::Worker::root() . '/../shared/fixtures') . '/healthsherpa';

sub fixture {
    open my $fh, '<', "$fx/$_[0]" or die "$fx/$_[0]: $!";
    local $/;
    return $J->decode(<$fh>);
}

my $hs = fixture('search-match.json')->{data}{contact};
fake_post('/__fake/healthsherpa/contacts', [ $hs ]);

my ($john, $maria, $bare, $mbi, $phone) = @{ fake_post(
    '/__fake/salesforce/contacts', [
    { FirstName => 'John', LastName => 'Doe', Birthdate => '1955-03-01',
      MailingCity => 'Old Town' },
    { FirstName => 'Maria', LastName => 'Lopez', Email => 'maria@example.org' },
    { FirstName => 'Nobody', LastName => 'Known' },
    { LastName => 'Doe', Medicare_Number__c => '1EG4TE5MK73' },
    { FirstName => 'John', LastName => 'Doe', Phone => '(202) 795-3213' },
  ]) };

my $N = 0;
sub hs_job {
    my ($cid, %o) = @_;
    my $id = sprintf('01HSJOB%05d%06d', $$ % 100000, ++$N);
    seed_job({ v => 1, id => $id, type => 'healthsherpa.sync',
               received_at => '2026-11-21T10:00:05.000Z',
               idempotency_key => 'b' x 64,
               source => { system => 'crm', event => 'healthsherpa-sync' },
               action => { contact_id => $cid,
                           agent => $o{agent} // 'agent@example.org' } });
    return $id;
}

sub hs_requests {
    return [ map { $_->{json} = eval { $J->decode($_->{body}) }; $_ }
             @{ fake_get('/__fake/requests?app=healthsherpa') } ];
}

my $FINAL = [qw(matched no_match failed skipped updated)];
my $pid = start_worker(write_config());

# ---- a match: mapped onto the contact, the id stored ----
my $matched = hs_job($john);
my $st = wait_status($matched, $FINAL);
is($st->{status}, 'matched', 'known contact: matched') or diag explain $st;
is($st->{message}, 'Synced from HealthSherpa', '... with the message');
is($st->{healthsherpa_contact_id}, $hs->{id}, '... and the HealthSherpa id');
is($st->{crm_contact_id}, $john, '... naming the CRM contact');

my $c = sf_contacts()->{$john};
is($c->{HealthSherpa_Contact_Id__c}, $hs->{id}, 'HealthSherpa_Contact_Id__c stored');
is($c->{MailingStreet}, "42 Main St\nUnit 12", 'address lines mapped');
is($c->{MailingCity}, 'Montgomery', 'city overwritten by HealthSherpa');
is($c->{MailingPostalCode}, '36104', 'zip');
is($c->{Phone}, '2027953213', 'phone');
is($c->{Email}, 'john.doe@example.org', 'email');
is($c->{Medicare_Number__c}, '1EG4TE5MK73', 'Medicare number');
is($c->{Medicare_Part_A_Effective_Date__c}, '2020-03-01', 'Part A date');
is($c->{GenderIdentity}, 'Male', 'sex');
ok(!exists $c->{Medicaid_Number__c}, 'a null HealthSherpa value blanks nothing');

my ($req) = @{ hs_requests() };
is($req->{path}, '/v1/contacts/search', 'v1 search path');
is($req->{api_key}, 'fake-hs-key', 'X-API-Key sent');
is($req->{json}{agent_email}, 'agent@example.org', 'agent_email in the body');
is_deeply($req->{json}{params}, { first_name => 'John', last_name => 'Doe',
                                  birth_date => '1955-03-01' },
          'name + birth_date (not date_of_birth)');

# the same again: nothing differs, nothing is written
my $patches = scalar @{ sf_requests(method => 'PATCH') };
$st = wait_status(hs_job($john), $FINAL);
is($st->{status}, 'skipped', 'second sync: nothing differs -> skipped');
is(scalar @{ sf_requests(method => 'PATCH') }, $patches, '... and no write');

# Medicare number alone; phone as 10 digits
fake_post('/__fake/reset', {}) && fake_post('/__fake/healthsherpa/contacts', [ $hs ]);
fake_post('/__fake/salesforce/contacts', [
    { Id => $mbi, LastName => 'Doe', Medicare_Number__c => '1EG4TE5MK73' },
    { Id => $phone, FirstName => 'John', LastName => 'Doe',
      Phone => '(202) 795-3213' },
    { Id => $maria, FirstName => 'Maria', LastName => 'Lopez',
      Email => 'maria@example.org' },
    { Id => $john, FirstName => 'John', LastName => 'Doe',
      Birthdate => '1955-03-01' },
    { Id => $bare, FirstName => 'Nobody', LastName => 'Known' } ]);
is(wait_status(hs_job($mbi), $FINAL)->{status}, 'matched', 'by Medicare number');
is(wait_status(hs_job($phone), $FINAL)->{status}, 'matched', 'by name + phone');
my @r = @{ hs_requests() };
is_deeply($r[0]{json}{params}, { medicare_number => '1EG4TE5MK73' },
          'medicare_number alone');
is_deeply($r[1]{json}{params}, { first_name => 'John', last_name => 'Doe',
                                 phone => '2027953213' }, 'phone: 10 digits');

# ---- no match, in each of the three forms ----
for my $form (qw(200 404 422 422nf)) {
    fake_post('/__fake/config', { hs_nomatch => $form });
    my $before = sf_contacts()->{$maria};
    $st = wait_status(hs_job($maria), $FINAL);
    is($st->{status}, 'no_match', "no match ($form): no_match");
    is($st->{message}, 'No matching HealthSherpa contact found', '... message');
    is_deeply(sf_contacts()->{$maria}, $before, '... contact unchanged');
}
is(scalar @{ sf_requests(method => 'PATCH', path => qr/\Q$maria\E/) }, 0,
   'no write for an unmatched contact');

# ---- parameters that cannot be built: no API call ----
my $n = scalar @{ hs_requests() };
$st = wait_status(hs_job($bare), $FINAL);
is($st->{status}, 'failed', 'name only: failed');
is($st->{message}, 'Invalid search parameters: a Medicare number, or a name '
   . 'with a date of birth, email or phone, is required', '... the message');
is($st->{attempts}, 1, '... not retried');
is(scalar @{ hs_requests() }, $n, '... HealthSherpa not called');

# ---- an agent the worker does not know: refused before anything ----
$n = scalar @{ hs_requests() };
my $nsf = scalar @{ sf_requests() };
$st = wait_status(hs_job($maria, agent => 'stranger@example.org'), $FINAL);
is($st->{status}, 'failed', 'an agent not configured: failed');
is($st->{message}, 'Not a known HealthSherpa agent: list the agent in '
   . 'healthsherpa.agents', '... says so');
is($st->{attempts}, 1, '... not retried');
is(scalar @{ hs_requests() }, $n, '... HealthSherpa not called');
is(scalar @{ sf_requests() }, $nsf, '... nor the CRM');
is(scalar @{ redis()->cmd('KEYS', '*stranger*') }, 0, '... no key names it');
is(stop_worker($pid), 0, 'worker stopped');

# ---- a listed agent HealthSherpa does not know: its 404, not retried ----
$pid = start_worker(write_config('healthsherpa.agents'
                                 => 'other@example.org, stranger@example.org'));
$st = wait_status(hs_job($maria, agent => 'stranger@example.org'), $FINAL);
is($st->{status}, 'failed', 'HealthSherpa: agent not found: failed');
like($st->{message}, qr/agent not found/i, '... says so');
is($st->{attempts}, 1, '... not retried');
is(stop_worker($pid), 0, 'worker stopped');

# ---- date_of_birth is refused by the API: 422, not retried ----
$pid = start_worker(write_config('healthsherpa.birth_date_key' => 'date_of_birth'));
$st = wait_status(hs_job($john), $FINAL);
is($st->{status}, 'failed', 'date_of_birth key: failed');
like($st->{message} // "", qr/^Invalid search parameters: HealthSherpa answered invalid_search_parameters/,
     '... invalid search parameters');
diag explain $st unless ($st->{message}//"") =~ /^Invalid/;
is($st->{attempts}, 1, '... not retried');
is(stop_worker($pid), 0, 'worker stopped');

# ---- the mapping is configuration: an entry renamed, one turned off ----
$pid = start_worker(write_config('healthsherpa.map' =>
                                 'sex=,phone=OtherPhone'));
fake_post('/__fake/salesforce/contacts', [ { Id => $phone, FirstName => 'John',
    LastName => 'Doe', Phone => '(202) 795-3213' } ]);
$st = wait_status(hs_job($phone), $FINAL);
is($st->{status}, 'matched', 'custom mapping: matched');
$c = sf_contacts()->{$phone};
is($c->{OtherPhone}, '2027953213', '... phone to OtherPhone');
is($c->{Phone}, '(202) 795-3213', '... Phone left alone');
ok(!exists $c->{GenderIdentity}, '... sex turned off');
is(stop_worker($pid), 0, 'worker stopped');
$pid = start_worker(write_config('healthsherpa.map' => 'shoe_size=X__c'));
$st = wait_status(hs_job($phone), $FINAL);
is($st->{status}, 'failed', 'unknown mapping entry: failed');
like($st->{message} // '', qr/shoe_size/, '... naming it');
is(stop_worker($pid), 0, 'worker stopped');

# ---- a wrong API key: authentication failed, not retried ----
$pid = start_worker(write_config('healthsherpa.api_key' => 'wrong'));
$st = wait_status(hs_job($john), $FINAL);
is($st->{status}, 'failed', 'bad key: failed');
like($st->{message}, qr/^HealthSherpa authentication failed: unauthorized \(HTTP 401\)/,
     '... authentication failed');
diag explain $st unless ($st->{message}//"") =~ /^HealthSherpa auth/;
is($st->{attempts}, 1, '... not retried');
is(stop_worker($pid), 0, 'worker stopped');

# ---- 429 with Retry-After, then 503: retried, then matched ----
$pid = start_worker(write_config());
fake_post('/__fake/inject', [
    { app => 'healthsherpa', times => 1, status => 429,
      headers => { 'Retry-After' => '1' },
      json => { error => { code => 'rate_limited', message => 'slow down' } } },
    { app => 'healthsherpa', times => 1, status => 503, body => 'busy' } ]);
my $id = hs_job($mbi);
$st = wait_status($id, $FINAL, 20);
is($st->{status}, 'skipped', '429 then 503: retried until it went through')
    or diag explain $st;
is($st->{attempts}, 3, '... three attempts');
my @hr = grep { $_->{json}{params}{medicare_number} } @{ hs_requests() };
ok($hr[-1]{t} - $hr[-3]{t} >= 1, '... Retry-After honoured');
is(stop_worker($pid), 0, 'worker stopped');

# no PHI and no key in the log (stderr and the stream) of the match and
# of the retried job
no_phi_in_log(name => 'log: no PHI, no API key',
              files => ["$env->{dir}/worker.log"],
              stream => write_config(), jobs => [ $matched, $id ],
              pattern =>
                  qr/1EG4TE5MK73|Montgomery|john\.doe|1955-03-01|fake-hs-key/);
done_testing();
