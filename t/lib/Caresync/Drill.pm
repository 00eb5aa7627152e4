package Caresync::Drill;

# Load for the drills (t/05x-*.t): clients that post distinct enrollments
# on keep-alive connections and read every answer, so that what was
# answered can be checked exactly against what Redis holds.
#
#     my $answered = load(url => …, clients => 8, seconds => 3,
#                         during => sub { … });   # runs while they post
#     # { patient id => HTTP status (599: no answer) }
#
#     my ($queued, $doubled) = queued();   # { patient id => 1 }, count

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(time);

use Caresync::Test qw(fixture jobs);

our @EXPORT = qw(load queued);

sub load {
    my (%o) = @_;
    my $clients = $o{clients} // 8;
    my $dir = $o{dir} or die "load: dir is required\n";
    my $template = fixture('helparound/enrollment.json');
    my @kids;

    for my $c (1 .. $clients) {
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            my $http = HTTP::Tiny->new(keep_alive => 1, timeout => 5);
            my $deadline = time + $o{seconds};
            open my $out, '>', "$dir/client-$c" or die $!;

            for (my $n = 1; time < $deadline; $n++) {
                my $id = sprintf 'h%s%02d%010d', $o{tag} // 'd', $c, $n;
                (my $body = $template) =~ s/ha61236024160af/$id/;
                my $res = $http->post($o{url}, {
                    headers => { 'Content-Type' => 'application/json' },
                    content => $body });
                print $out "$id $res->{status}\n";
            }

            close $out;
            POSIX::_exit(0);
        }

        push @kids, $pid;
    }

    $o{during}->() if $o{during};
    waitpid($_, 0) for @kids;

    my %answered;

    for my $c (1 .. $clients) {
        open my $in, '<', "$dir/client-$c" or die $!;
        while (<$in>) {
            my ($id, $code) = split;
            $answered{$id} = $code;
        }
    }

    return \%answered;
}

sub queued {
    my (%queued, $doubled);
    $doubled = 0;

    for my $job (jobs()) {
        $doubled++ if $queued{ $job->{patient}{source_id} }++;
    }

    return (\%queued, $doubled);
}

1;
