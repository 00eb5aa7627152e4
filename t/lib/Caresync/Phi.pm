package Caresync::Phi;

# The PHI values the suites search for wherever PHI must not be: the logs
# (Caresync::Test's automatic --- no_error_log), the jobs Redis holds, and
# Redis's own files and wire (t/worker/390-redis-phi-scan.t).  No Redis, no
# server: loading it starts nothing.
#
#   phi_patterns()   strings (matched anywhere) and regexps (whole words)
#   phi_hits(TEXT)   how many of them TEXT holds (a count: never show
#                    which, the output holds no PHI either)
#   phi_values()     made-up PHI for variant bodies: use these so that
#                    they are searched for too

use strict;
use warnings;

use Exporter 'import';
our @EXPORT_OK = qw(phi_patterns phi_values phi_hits);


# Values of the fixtures (and of the suites' variant bodies) that identify
# a patient. Plain strings match anywhere in a log line; the short ones
# (WORD) only as a whole word.
my @PHI = (
    # helparound/enrollment.json, user-action*.json
    'WORD:John', 'WORD:Doe', '1614556800000', '2021-03-01',
    '+12027953213', 'WORD:2027953213', 'test@gmail.com',
    'WORD:234234', 'WORD:ds43', 'WORD:hg89', 'WORD:test2',
    '7b20a933-9292-41e4-91ea-59eba72f2221',
    'eb6f8886-11e0-4339-801a-ee645351042b',
    'fc497e96-9f09-4c2a-a964-89c6f7473f4d',
    '5405ec11-c9d0-4279-82db-2f70f959b904',
    '85219935-52b6-41a4-82ca-2f32ed709e5c',
    # hint/patient.*.json
    'Maria', 'Elena', 'Lopez', '1958-04-12', 'WORD:5035550143',
    '+15035550143', '(503) 555-0199', '+15035550199',
    'maria.lopez@example.org', '1200 NW Everett St', 'Portland',
    'WORD:97209', 'W123456789', 'GRP-551',
);

# Made-up PHI for the suites' variant bodies: use these (phi_values()->{…})
# so that they are searched for too.
my %PHI_VALUES = (
    first_name => 'Quillon',
    last_name  => 'Vandermeer',
    dob        => '1949-07-23',
    phone      => '+14155550172',
    phone_10   => '4155550172',
    email      => 'q.vandermeer@example.net',
    street     => '742 Alder Grove Rd',
    member_id  => 'ZX9917345',
    group_num  => 'GRP-88123',
);
my %PHI_WORDS = (phone_10 => 1);
push @PHI, map { ($PHI_WORDS{$_} ? 'WORD:' : '') . $PHI_VALUES{$_} }
           sort keys %PHI_VALUES;

sub phi_values { return {%PHI_VALUES} }

# The patterns of the automatic --- no_error_log check.
sub phi_patterns {
    return map {
        /^WORD:(.*)$/s ? qr/(?<![0-9A-Za-z])\Q$1\E(?![0-9A-Za-z])/ : $_
    } @PHI;
}


sub phi_hits {
    my ($text) = @_;
    return scalar grep { ref $_ ? $text =~ $_ : index($text, $_) >= 0 }
                  phi_patterns();
}

1;
