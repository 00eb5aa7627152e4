package Caresync::Enrollment;

# helparound.enrollment jobs for the worker's tests (t/worker/1xx-*.t):
# the envelope of spec/job.md with the normalized patient the module makes
# of the seed's enrollment fixture; options override patient fields.

use strict;
use warnings;

use Exporter ();
use JSON::PP ();
our @ISA = ('Exporter');
our @EXPORT = qw(enrollment_job media_ids);

my $N = 0;

sub media_ids {
    return qw(7b20a933-9292-41e4-91ea-59eba72f2221
              eb6f8886-11e0-4339-801a-ee645351042b
              fc497e96-9f09-4c2a-a964-89c6f7473f4d
              5405ec11-c9d0-4279-82db-2f70f959b904
              85219935-52b6-41a4-82ca-2f32ed709e5c);
}

sub enrollment_job {
    my (%o) = @_;
    my $id = delete $o{id}
             // sprintf('01ENROLL%05d%06d', $$ % 100000, ++$N);
    my @m = media_ids();
    my $p = {
        source_id => 'ha61236024160af',
        external_id => '4aadb997-e9fd-3909-a2f0-833b821544bd',
        external_ids => [{ source => 'Source',
                           id => '4aadb997-e9fd-3909-a2f0-833b821544bd' }],
        first_name => 'John', last_name => 'Doe', dob => '2021-03-01',
        gender => 'male', email => 'test@gmail.com',
        phones => [{ type => 'mobile', number => '+12027953213' }],
        address => { line1 => 'test', line2 => '12', city => 'test',
                     state => 'AL', zip => '12345', country => 'US' },
        language => 'English', contact_method => 'Phone',
        call_time => 'Morning',
        caregiver => { name => 'test', relationship => 'Parent',
                       phone => '+12027953213', email => 'test@gmail.com' },
        insurance => {
            primary => { carrier => 'test', member_id => '123',
                         group_num => 'ds43', card_name => 'test',
                         card_dob => '2021-03-01',
                         front_image_id => $m[0], back_image_id => $m[1] },
            secondary => { status => 'active', carrier => 'test2',
                           member_id => '234234', group_num => 'hg89',
                           card_name => 'test2', card_dob => '2021-03-01',
                           front_image_id => $m[2], back_image_id => $m[3] },
        },
        consents => [
            { name => 'communication', value => JSON::PP::true,
              at => '2021-03-01T00:00:00.000Z' },
            { name => 'sharePHI', value => JSON::PP::true,
              at => '2021-03-01T00:00:00.000Z' } ],
        signature => { at => '2021-03-01T00:00:00.000Z', image_id => $m[4] },
    };
    for my $k (keys %o) {
        if (defined $o{$k}) { $p->{$k} = $o{$k} } else { delete $p->{$k} }
    }
    return {
        v => 1, id => $id, type => 'helparound.enrollment',
        received_at => '2026-11-21T10:00:05.000Z',
        idempotency_key => 'e' x 64,
        source => { system => 'helparound',
                    event => 'HelpAround.Patient.CompleteEnrollment',
                    program_id => '78ef982b-00ea-39c2-a875-f549c40e92ad' },
        patient => $p,
    };
}

1;
