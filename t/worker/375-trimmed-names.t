# sync-rules.md §C: "names compared trimmed and case-insensitively" -- so
# every query the worker sends for a match carries the names trimmed: a
# name with a space at either end still finds its match, in both
# directions, and no duplicate is created.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Caresync::Worker;
use Caresync::Hint;

my $J = JSON::PP->new;
my $env = start_env();
my $conf = write_config('hint.create_contacts' => 'on');
my $pid = start_worker($conf);
my @final = qw(updated created linked unlinked skipped no_match failed
               matched);

sub run { wait_status(seed_job($_[0]), \@final) }

sub uri_unescape { my $s = shift; $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge; $s }

sub queries {
    my ($app, $re) = @_;
    return [ grep { uri_unescape($_->{query} =~ tr/+/ /r) =~ $re }
             @{ fake_get("/__fake/requests?app=$app") } ];
}

# ---- Hint -> CRM: a patient whose names carry spaces -------------------
my ($c1) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Maria', LastName => 'Lopez', Birthdate => '1958-04-12',
      Email => 'maria@example.org' } ]) };
my ($p1) = @{ seed_patients(fixture_patient(id => 'pat-trim1',
                                            first_name => ' Maria ',
                                            last_name => ' Lopez  ')) };
my $before = keys %{ sf_contacts() };
my $st = run(hint_job('patient.created', $p1));
is($st->{status}, 'linked', 'patient " Maria " " Lopez  ": linked to its '
   . 'contact') or diag explain $st;
is($st->{crm_contact_id}, $c1, '... the exact match');
is(scalar keys %{ sf_contacts() }, $before, '... no duplicate created');
is(scalar @{ queries('salesforce', qr/LastName = 'Lopez'/) }, 1,
   "the candidates were sought by LastName = 'Lopez', trimmed");
is(scalar @{ queries('salesforce', qr/LastName = ' /) }, 0,
   '... never with the spaces');

# ---- CRM -> Hint: a contact whose names carry spaces --------------------
my ($p2) = @{ seed_patients(fixture_patient(id => 'pat-trim2',
                                            first_name => 'Rosa',
                                            last_name => 'Diaz',
                                            dob => '1961-02-03')) };
my ($c2) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => 'Rosa ', LastName => '  Diaz', Birthdate => '1961-02-03',
      Email => 'rosa@example.org' } ]) };
$st = run(action_job('hint.sync', $c2));
is($st->{status}, 'linked', 'contact "Rosa " "  Diaz": linked to its Hint '
   . 'patient') or diag explain $st;
is($st->{hint_patient_id}, $p2, '... the exact match');
my $l = queries('hint', qr/last_name=/);
ok(@$l && uri_unescape($l->[-1]{query}) =~ /(?:^|&)last_name=Diaz(?:&|$)/
   && uri_unescape($l->[-1]{query}) =~ /(?:^|&)first_name=Rosa(?:&|$)/,
   'Hint was searched with first_name=Rosa, last_name=Diaz, trimmed')
    or diag explain $l;

# the same list search serves batch crm-to-hint: a contact with spaces
my ($p3) = @{ seed_patients(fixture_patient(id => 'pat-trim3',
                                            first_name => 'Ana',
                                            last_name => 'Ruiz',
                                            dob => '1970-05-06')) };
my ($c3) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => ' Ana', LastName => 'Ruiz ', Birthdate => '1970-05-06' } ]) };
$st = run({ %{ action_job('batch.item', $c3, item => 'hint.batch_contact',
                          batch_id => 'b20260101000000aaaaaa') } });
is($st->{status}, 'linked', 'crm-to-hint item " Ana" "Ruiz ": linked')
    or diag explain $st;
is($st->{hint_patient_id}, $p3, '... to its patient');

# a name of spaces only is no name: not matchable, nothing sought
my ($c4) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => '   ', LastName => 'Ruiz', Birthdate => '1970-05-06' } ]) };
my $n = @{ queries('hint', qr/last_name=/) };
$st = run(action_job('hint.sync', $c4));
is($st->{status}, 'no_match', 'a first name of spaces: not matchable');
is(scalar @{ queries('hint', qr/last_name=/) }, $n, '... Hint not searched');

# ---- HealthSherpa: the name form of the search, trimmed ----------------
my ($c5) = @{ fake_post('/__fake/salesforce/contacts', [
    { FirstName => ' Ann ', LastName => 'Lee  ', Email => 'ann@example.org' } ]) };
$st = run({ v => 1, id => 'TRIMHS000001', type => 'healthsherpa.sync',
            received_at => '2026-11-21T10:00:05.000Z',
            idempotency_key => 'c' x 64,
            source => { system => 'crm', event => 'healthsherpa-sync' },
            action => { contact_id => $c5, agent => 'agent@example.org' } });
my ($hs) = grep { $_->{path} =~ m{/contacts/search$} }
           reverse @{ fake_get('/__fake/requests?app=healthsherpa') };
my $body = $hs && eval { $J->decode($hs->{body}) };
is($body && $body->{params}{first_name}, 'Ann',
   'HealthSherpa searched with first_name "Ann"') or diag explain $body;
is($body && $body->{params}{last_name}, 'Lee', '... and last_name "Lee"');

is(stop_worker($pid), 0, 'worker stopped');
done_testing();
