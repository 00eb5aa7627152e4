package Caresync::Hint;
# Helpers for the Hint <-> Salesforce suites (t/worker/3xx-hint*.t): job
# envelopes in the shape of spec/job.md (hint.patient as the edge
# normalizes it; the action jobs as the actions API queues them), the
# fixture patient, and views of the fake Hint.
use strict;
use warnings;
use Exporter 'import';
use JSON::PP;
use Caresync::Worker;

our @EXPORT = qw(hint_job action_job fixture_patient hint_patients
                 hint_requests seed_patients delete_patient);

my $JSON = JSON::PP->new->canonical;
my $N = 0;

sub job_id { sprintf('01HINTJOB%05d%06d', $$ % 100000, ++$N) }

# The fixture's patient (Maria Lopez), with overrides.
sub fixture_patient {
    my (%o) = @_;
    my $root = Caresync::Worker::root();
    my ($file) = grep { -f } map { "$_/hint/patient.created.json" }
        "$root/../shared/fixtures", '/work/shared/fixtures';
    open my $fh, '<', $file or die "fixture: $!";
    local $/;
    my $p = $JSON->decode(<$fh>)->{object};
    delete $p->{$_} for grep { !defined $p->{$_} } keys %$p;
    $p->{$_} = $o{$_} for keys %o;
    delete $p->{$_} for grep { !defined $p->{$_} } keys %$p;
    return $p;
}

# hint.patient as the edge queues it: the normalized patient's ids
# (the worker reads the patient itself from Hint).
sub hint_job {
    my ($event, $pid) = @_;
    return {
        v => 1, id => job_id(), type => 'hint.patient',
        received_at => '2026-11-21T10:00:05.000Z',
        idempotency_key => 'evt-' . $N,
        source => { system => 'hint', event => $event,
                    event_id => "evt-$N" },
        patient => { source_id => $pid, external_ids => [] },
    };
}

sub action_job {
    my ($type, $contact_id, %action) = @_;
    return {
        v => 1, id => job_id(), type => $type,
        received_at => '2026-11-21T10:00:05.000Z',
        idempotency_key => 'b' x 64,
        source => { system => 'crm', event => $type },
        action => { contact_id => $contact_id, %action },
    };
}

sub seed_patients {
    my $all = fake_post('/__fake/hint/patients', [@_]);
    return [ map { $_->{id} } @_ ];
}

# The patient deleted in Hint, as a practice does (the API's DELETE).
sub delete_patient {
    my ($id) = @_;
    my $env = Caresync::Worker::env();
    my $res = $env->{http}->request('DELETE',
        "$env->{fake}/api/provider/patients/$id",
        { headers => { Authorization => 'Bearer fake-hint-key' } });
    die "DELETE patient $id: $res->{status}" unless $res->{success};
}

sub hint_patients {
    return { map { $_->{id} => $_ } @{ fake_get('/__fake/hint/patients') } };
}

sub hint_requests {
    my (%f) = @_;
    my $all = fake_get('/__fake/requests?app=hint');
    return [ grep {
        (!$f{method} || $_->{method} eq $f{method})
        && (!$f{path} || $_->{path} =~ $f{path})
    } @$all ];
}

1;
