package Caresync::DnsStub;

# A tiny DNS server on loopback for the tests of name re-resolution: it
# answers every A query, for any name, with the IPv4 address written in
# its answer file (re-read on each query, so that a test moves the name
# by rewriting the file), TTL 1 s; any other query gets an empty answer.
# UDP only, one packet at a time; it runs as a process of its own, killed
# when the test ends (Caresync::RedisTopology's spawn_process).
#
#   my $dns = start_dns_stub(dir => $dir, address => '127.0.0.1');
#   # $dns->{port}; dns_answer($dns, '127.0.0.2'); $dns->{queries}->()

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET;
use Time::HiRes qw(sleep);

use Caresync::RedisTopology qw(spawn_process topology_wait);

our @EXPORT = qw(start_dns_stub dns_answer);

sub start_dns_stub {
    my (%o) = @_;
    my $dir = $o{dir} or die "start_dns_stub: dir is required\n";
    my $port = do {
        my $s = IO::Socket::INET->new(Proto => 'udp',
                                      LocalAddr => '127.0.0.1',
                                      LocalPort => 0) or die $!;
        $s->sockport;
    };
    my $dns = { port => $port, file => "$dir/dns-answer",
                log => "$dir/dns.log" };
    dns_answer($dns, $o{address} // '127.0.0.1');
    unlink $dns->{log};
    $dns->{pid} = spawn_process($dns->{log}, $^X, '-Mlib=t/lib',
        '-MCaresync::DnsStub', '-e',
        'Caresync::DnsStub::serve(@ARGV)', $port, $dns->{file});
    topology_wait(sub { -s $dns->{log} }, 5)
        or die "the DNS stub did not start (see $dns->{log})";
    $dns->{queries} = sub {
        open my $fh, '<', $dns->{log} or return 0;
        return scalar grep { /^query / } <$fh>;
    };
    return $dns;
}

sub dns_answer {
    my ($dns, $address) = @_;
    open my $fh, '>', "$dns->{file}.tmp" or die $!;
    print $fh "$address\n";
    close $fh;
    rename "$dns->{file}.tmp", $dns->{file} or die $!;
}

# The server's loop (in its own process).
sub serve {
    my ($port, $file) = @_;
    my $s = IO::Socket::INET->new(Proto => 'udp', LocalAddr => '127.0.0.1',
                                  LocalPort => $port) or die "bind: $!";
    $| = 1;
    print "listening on $port\n";

    while (1) {
        my $peer = $s->recv(my $q, 512) or next;
        next if length $q < 12;
        my ($id, $flags, $qd) = unpack 'n n n', $q;
        next if $qd != 1 || ($flags & 0x8000);

        # the question: labels, then type and class
        my $off = 12;
        while ($off < length $q) {
            my $l = ord substr($q, $off, 1);
            last if $l == 0 || $l > 63;
            $off += 1 + $l;
        }
        next if $off + 5 > length $q || ord(substr($q, $off, 1)) != 0;
        my $question = substr($q, 12, $off + 5 - 12);
        my ($type) = unpack 'n', substr($q, $off + 1, 2);

        open my $fh, '<', $file or next;
        my $address = <$fh> // '';
        close $fh;
        chomp $address;
        my @ip = $address =~ /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/ or next;

        my $answer = '';
        if ($type == 1) {
            $answer = pack('n n n N n C4', 0xC00C, 1, 1, 1, 4, @ip);
        }
        print 'query ', ($type == 1 ? "A $address" : "type $type"), "\n";

        $s->send(pack('n n n n n n', $id, 0x8180, 1, $answer ? 1 : 0, 0, 0)
                 . $question . $answer, 0, $peer);
    }
}

1;
