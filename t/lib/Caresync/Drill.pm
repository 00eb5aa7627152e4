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
#
#     my $n = nginx_start('servroot-x', redis => 'timeout=3s');
#     # options, all optional: workers => 1 (default 2), and lines added
#     # to the http block (http => …), to the server (server => …) and to
#     # the enrollment location (location => …)
#     # $n->{port}, {url}, {root}, {master}, {started},
#     # $n->{log}->() (the error log so far),
#     # $n->{cmd}->('-s', 'reload'), $n->{quit}->() (exited within 5 s),
#     # $n->{alerts}->() (alert, crit and emerg lines of the error log)
#
#     my ($ok, $out) = nginx_check('servroot-y', http => …);   # nginx -t
#
#     my $s = send_request($port, 'POST', $uri, $body);  # one connection
#     my $answers = read_answers({ name => $s, … }, $want, $seconds);
#     # { name => { status, head, body } }, the connections closed

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter 'import';
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

use Caresync::Test qw(fixture jobs redis_port);

our @EXPORT = qw(load queued nginx_start nginx_check send_request
                 read_answers);

my $NGINX = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';

# nginx with a real master and two workers, and one enrollment location.
sub nginx_start {
    my ($name, %o) = @_;
    my ($root, $port) = _nginx_conf($name, %o);
    my $nginx = $NGINX;

    my %n = (root => $root, port => $port,
             url => "http://127.0.0.1:$port/webhook/user-enrollment");

    $n{cmd} = sub {
        return system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf', @_);
    };

    $n{started} = $n{cmd}->() == 0;
    sleep 0.3;

    $n{master} = do { local (@ARGV, $/) = "$root/logs/nginx.pid"; <> };
    chomp $n{master};

    # the test process reaps orphans (Caresync::Test): reap the master too
    my $alive = sub {
        waitpid($n{master}, POSIX::WNOHANG());
        return kill(0, $n{master});
    };

    $n{quit} = sub {
        $n{cmd}->('-s', 'quit') == 0 or return 0;
        my $until = time + 5;
        sleep 0.1 while $alive->() && time < $until;
        return !$alive->();
    };

    $n{log} = sub {
        open my $log, '<', "$root/logs/error.log" or die $!;
        local $/;
        return <$log>;
    };

    $n{alerts} = sub {
        open my $log, '<', "$root/logs/error.log" or die $!;
        return grep { /\[(alert|emerg|crit)\]/ } <$log>;
    };

    return \%n;
}

# `nginx -t` of the same configuration: (passed, what it printed).
sub nginx_check {
    my ($name, %o) = @_;
    my ($root) = _nginx_conf($name, %o);
    my $out = qx{'$NGINX' -t -p '$root/' -c conf/nginx.conf 2>&1};
    return ($? == 0, $out);
}

sub _nginx_conf {
    my ($name, %o) = @_;
    my $module = $ENV{TEST_NGINX_LOAD_MODULES}
        || abs_path('build/ngx_http_caresync_module.so');
    my $root = abs_path('t') . "/$name";
    my $redis = redis_port();
    my $params = $o{redis} // '';
    my $workers = $o{workers} // 2;
    my ($http, $server, $location) = map { $o{$_} // '' }
                                     qw(http server location);

    my $port = do {
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => 0, ReuseAddr => 1)
            or die $!;
        $s->sockport;
    };

    remove_tree($root);
    make_path("$root/conf", "$root/logs");

    open my $fh, '>', "$root/conf/nginx.conf" or die $!;
    print $fh <<"CONF";
load_module $module;
master_process on;
daemon on;
worker_processes $workers;
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    caresync_redis 127.0.0.1:$redis $params;
    caresync_job_key t1 file:$ENV{TEST_NGINX_JOB_KEY};
    $http
    server {
        listen 127.0.0.1:$port;
        $server
        location = /webhook/user-enrollment {
            caresync_webhook helparound_enrollment;
            caresync_auth off;
            $location
        }
    }
}
CONF
    close $fh;

    return ($root, $port);
}

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

# Sends one request on its own connection (Connection: close); returns
# the socket.
sub send_request {
    my ($port, $method, $uri, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    my $req = "$method $uri HTTP/1.1\r\nHost: localhost\r\n"
            . "Connection: close\r\n";
    $req .= "Content-Type: application/json\r\n"
          . 'Content-Length: ' . length($body) . "\r\n" if defined $body;
    $req .= "\r\n" . ($body // '');
    for (my $off = 0; $off < length $req; ) {
        my $n = syswrite($s, $req, length($req) - $off, $off);
        die "write: $!" unless defined $n;
        $off += $n;
    }
    return $s;
}

# Reads whole answers (the server closes each connection) from the sockets
# of %$pending (name => socket) until $want of them are complete or the
# deadline passes; returns { name => { status, headers, body } }.
sub read_answers {
    my ($pending, $want, $seconds) = @_;
    my (%buf, %done);
    my $sel = IO::Select->new(values %$pending);
    my %name = map { ($pending->{$_} => $_) } keys %$pending;
    my $deadline = time + $seconds;

    while (keys %done < $want && $sel->count && time < $deadline) {
        for my $s ($sel->can_read($deadline - time)) {
            my $n = sysread($s, my $chunk, 65536);
            if ($n) { $buf{ $name{$s} } .= $chunk; next }
            $sel->remove($s);
            my $name = $name{$s};
            my ($head, $body) = split /\r\n\r\n/, $buf{$name} // '', 2;
            my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d{3})};
            $done{$name} = { status => $status // 0, head => $head // '',
                             body => $body // '' };
            delete $pending->{$name};
            close $s;
        }
    }

    return \%done;
}

1;
