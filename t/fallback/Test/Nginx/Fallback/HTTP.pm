package Test::Nginx::Fallback::HTTP;

# The client side of the fallback Test::Nginx::Socket: turning a block's
# "--- request" into the bytes put on the wire, sending them over one TCP
# connection, and parsing what comes back.
#
# The rules followed here are those of the real Test::Nginx::Socket (read
# from its documentation and source, not copied):
#   * the first line of a request is "METHOD [URI [VERSION]]"; the URI
#     defaults to "/" and the version to HTTP/1.1; whatever follows the
#     first line is the body;
#   * "Host: localhost" and "Connection: close" are added unless
#     --- more_headers has them;
#   * when the body is not empty, the request is not chunked and
#     --- more_headers has no Content-Length, the body is trimmed of leading
#     and trailing white space and a Content-Length header is added;
#     otherwise the body goes out byte for byte;
#   * every request of a --- request array goes on its own connection.

use strict;
use warnings;

use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes qw(sleep time);

# ---------------------------------------------------------------------------
# Building requests
# ---------------------------------------------------------------------------

# "Key: value" lines of --- more_headers as CRLF-terminated header lines.
# Returns (header text, whether "Transfer-Encoding: chunked" is among them).
sub format_more_headers {
    my ($text) = @_;
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $text // '') {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val = '' unless defined $val;
        $chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# One request string ("POST /x\nbody") plus formatted extra headers
# -> the bytes to send.
sub build_request {
    my (%a) = @_;
    my ($text, $headers, $chunked) = @a{qw(text headers chunked)};
    my $server_name = $a{server_name} // 'localhost';
    my $conn = $a{connection} // 'close';

    # The first line, terminator included, and the body after it.
    my ($first, $body);
    if ($text =~ /\A([^\n]*\n?)(.*)\z/s) {
        ($first, $body) = ($1, $2);
    }
    die "request line should be non-empty\n"
        unless defined $first && $first =~ /\S/;

    my ($method, $uri, $version) =
        $first =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or die "request line is not valid, expected 'METHOD [URI [VERSION]]': "
             . "\"$first\"\n";
    $uri     //= '/';
    $version //= 'HTTP/1.1';

    my $len_header = '';
    if (!$chunked && $body ne '' && $headers !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($body) . "\r\n";
    }

    $headers =~ s/(?<!\r)\n/\r\n/g;

    my $head = "$method $uri $version\r\n";
    $head .= "Host: $server_name\r\n"     if $headers !~ /(?:^|\n)Host:/msi;
    $head .= "Connection: $conn\r\n"      if $headers !~ /(?:^|\n)Connection/msi;
    $head .= $headers . $len_header . "\r\n";

    return $head . $body;
}

# ---------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------

# Sends $bytes to host:port and reads until the server closes the connection.
# $timeout bounds every wait (connecting, each read or write), as in the
# real one; a time-out closes the socket.
#
# Returns a hash: resp (bytes read, possibly ''), timed_out (bool),
# connect_error (string, when no connection could be made).
sub send_and_receive {
    my (%a) = @_;
    my ($host, $port, $bytes, $timeout) = @a{qw(host port bytes timeout)};

    my $sock = IO::Socket::INET->new(
        PeerAddr => $host,
        PeerPort => $port,
        Proto    => 'tcp',
        Timeout  => $timeout,
    );
    return { resp => '', connect_error => "$!" } unless $sock;

    $sock->blocking(0);
    my $sel = IO::Select->new($sock);
    my $resp = '';
    my $off = 0;
    my $timed_out = 0;

    while (1) {
        my $want_write = $off < length $bytes;
        my ($r, $w) = IO::Select->select($sel, $want_write ? $sel : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            next if $! == EINTR;
            $timed_out = 1;
            last;
        }

        if ($w && @$w) {
            my $n = syswrite($sock, $bytes, length($bytes) - $off, $off);
            if (defined $n) {
                $off += $n;
            } elsif ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
                # The server may have answered and closed early (e.g. 413):
                # stop writing, keep what can still be read.
                $off = length $bytes;
            }
        }

        if ($r && @$r) {
            my $n = sysread($sock, my $buf, 8192);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                last;    # ECONNRESET and the like: keep what we have
            }
            last if $n == 0;
            $resp .= $buf;
        }
    }

    close $sock;
    return { resp => $resp, timed_out => $timed_out };
}

# ---------------------------------------------------------------------------
# Parsing responses
# ---------------------------------------------------------------------------

# Returns ($response, $raw_headers, $leftover, $error).
# $raw_headers is the status line and headers up to, and including, the
# CRLF of the last header line (what --- response_headers' "!Name" and
# raw_response_headers_like look at).
sub parse_response {
    my ($raw, $is_head) = @_;

    my $raw_headers = $raw =~ /\A(.*?\r\n)\r\n/s ? $1 : '';

    my ($head, $body);
    if ($raw =~ /\A(.*?)\r?\n\r?\n(.*)\z/s) {
        ($head, $body) = ($1, $2);
    } else {
        ($head, $body) = ($raw, '');
    }

    my @lines = split /\r?\n/, $head;
    my $status = shift(@lines) // '';
    my $code = $status =~ m{^HTTP/\d+(?:\.\d+)?\s+(\d+)} ? $1 : undef;

    my $res = Test::Nginx::Fallback::Response->new(code => $code);
    for my $line (@lines) {
        next unless $line =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/;
        $res->push_header($1, $2);
    }

    my $left;
    if (defined $code && ($code == 304 || $code == 101)) {
        $res->content($body);
        return ($res, $raw_headers, undef, undef);
    }

    my $te  = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if (defined $te && $te eq 'chunked') {
        my ($decoded, $rest, $err) = _dechunk($body);
        return (undef, $raw_headers, undef, $err) if defined $err;
        $res->content($decoded);
        $left = $rest if defined $rest && length $rest;

    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body > $len) {
            $left = substr $body, $len;
            $body = substr $body, 0, $len;
        } elsif (length $body < $len && !$is_head) {
            warn "WARNING: response body truncated: $len expected, but got ",
                length $body, "\n";
        }
        $res->content($body);

    } else {
        $res->content($body);
    }

    return ($res, $raw_headers, $left, undef);
}

sub _dechunk {
    my ($raw) = @_;
    my $out = '';
    pos($raw) = 0;
    while (1) {
        if ($raw =~ /\G0[ \t]*\r\n/gc) {
            # Trailer fields, if any, then the final CRLF.
            while ($raw =~ /\G[^\r\n]+\r\n/gc) { }
            return (undef, undef, "invalid chunked data received (expected CRLF).")
                unless $raw =~ /\G\r\n/gc;
            return ($out, substr($raw, pos $raw));
        }
        if ($raw =~ /\G[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r\n/gc) {
            my $size = hex $1;
            my $at = pos $raw;
            return (undef, undef, "invalid chunked data received "
                . "(not enough octets for the data section)")
                if length($raw) - $at < $size;
            $out .= substr $raw, $at, $size;
            pos($raw) = $at + $size;
            return (undef, undef, "invalid chunked data received (expected CRLF).")
                unless $raw =~ /\G\r\n/gc;
            next;
        }
        my $rest = substr $raw, pos($raw) // 0;
        return (undef, undef, length $rest
            ? "invalid chunked body received: $rest"
            : "no last chunk found");
    }
}

# ---------------------------------------------------------------------------
# A response: the small part of HTTP::Response's interface the checks use.
# ---------------------------------------------------------------------------

package Test::Nginx::Fallback::Response;

sub new {
    my ($class, %a) = @_;
    return bless { code => $a{code}, headers => [], content => '' }, $class;
}

sub code { $_[0]{code} }

sub content {
    my $self = shift;
    $self->{content} = shift if @_;
    return $self->{content};
}

sub push_header {
    my ($self, $name, $value) = @_;
    push @{ $self->{headers} }, [lc $name, $value];
}

# All values of a header; in scalar context joined by ", " (as
# HTTP::Headers does), undef when absent.
sub header {
    my ($self, $name) = @_;
    my @v = map { $_->[1] } grep { $_->[0] eq lc $name } @{ $self->{headers} };
    return @v if wantarray;
    return @v ? join(', ', @v) : undef;
}

1;
