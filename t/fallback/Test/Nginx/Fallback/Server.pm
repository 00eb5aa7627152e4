package Test::Nginx::Fallback::Server;

# The nginx side of the fallback Test::Nginx::Socket: the server root, the
# generated nginx.conf, starting nginx (as a daemon, as the real one does)
# and stopping it through its pid file.

use strict;
use warnings;

use File::Path qw(remove_tree make_path);
use POSIX qw(SIGQUIT SIGTERM SIGKILL WNOHANG);
use Time::HiRes qw(sleep time);

# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

# kill(0) says yes for a zombie, and a daemonized nginx that exits may stay
# a zombie for a while when nothing reaps orphans: look at /proc too.
sub is_running {
    my ($pid) = @_;
    return 0 unless defined $pid && $pid =~ /^\d+$/ && $pid > 0;
    return 0 unless kill 0, $pid;
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh> // '';
        close $fh;
        return 0 if $stat =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

sub read_pid_file {
    my ($file) = @_;
    open my $in, '<', $file or return undef;
    my $pid = do { local $/; <$in> };
    close $in;
    return undef unless defined $pid;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# Graceful stop (QUIT, or TERM when $fast), waiting up to $timeout seconds,
# then TERM again a few times, then KILL.
sub stop_pid {
    my ($pid, $timeout, $fast) = @_;
    return unless is_running($pid);

    kill($fast ? SIGTERM : SIGQUIT, $pid);
    my $deadline = time + $timeout;
    while (time < $deadline && is_running($pid)) {
        waitpid($pid, WNOHANG);
        sleep 0.02;
    }
    for (1 .. 10) {
        last unless is_running($pid);
        kill SIGTERM, $pid;
        sleep 0.05;
    }
    if (is_running($pid)) {
        warn "WARNING: killing nginx ($pid) with SIGKILL\n";
        kill SIGKILL, $pid;
        sleep 0.05;
        waitpid($pid, WNOHANG);
    }
}

# ---------------------------------------------------------------------------
# Server root and configuration
# ---------------------------------------------------------------------------

# Empties and recreates servroot/{conf,logs,html}. Only the directories this
# module creates are removed, so that a mistaken TEST_NGINX_SERVROOT does not
# wipe someone's data.
sub setup_server_root {
    my ($root) = @_;
    if (-d $root) {
        remove_tree("$root/conf", "$root/logs", "$root/html", "$root/cache",
                    glob("$root/*_temp"), glob("$root/*_cache"));
        rmdir $root or die "Can't remove $root (not empty?): $!\n";
    }
    make_path("$root/conf", "$root/logs", "$root/html")
        or die "Failed to create $root: $!\n";
    open my $out, '>', "$root/html/index.html"
        or die "Can't write $root/html/index.html: $!\n";
    print $out '<html><head><title>It works!</title></head>'
             . '<body>It works!</body></html>';
    close $out;
}

# Writes nginx.conf. %c holds: root, conf_file, error_log, pid_file,
# access_log, workers, daemon, master, log_level, env (array), load_modules
# (array of .so paths), main_config, http_config, post_main_config, config,
# preamble, server_port, server_name, worker_connections, no_root_location,
# event_type, nginx_V (output of nginx -V).
sub write_config {
    my (%c) = @_;
    my $root = $c{root};

    my $main = $c{main_config} // '';
    if (@{ $c{load_modules} || [] }) {
        $main = join(' ', map { "load_module $_;" } @{ $c{load_modules} })
              . " $main";
    }

    my $http = $c{http_config} // '';

    # Temp paths inside the server root, unless the module is compiled out
    # or the test sets the path itself.
    my @temp;
    push @temp, "client_body_temp_path $root/client_body_temp;"
        unless $http =~ /\bclient_body_temp_path\b/;
    push @temp, "proxy_temp_path $root/proxy_temp;"
        unless $http =~ /\bproxy_temp_path\b/;
    for my $m (qw(fastcgi scgi uwsgi)) {
        push @temp, "${m}_temp_path $root/${m}_temp;"
            unless ($c{nginx_V} // '') =~ /--without-http_${m}_module/;
    }

    (my $server_name = $c{server_name}) =~ s/([\\'])/\\$1/g;

    my $env = join '', map {
        my $v = $_;
        $v = "'$v'" if $v =~ /\s/;
        "env $v;\n";
    } @{ $c{env} || [] };

    my $root_location = $c{no_root_location} ? '' : <<"_EOC_";
        location / {
            root $root/html;
            index index.html index.htm;
        }
_EOC_

    my $events_use = $c{event_type} ? "    use $c{event_type};\n" : '';
    my $user = $> == 0 ? "user root;\n" : '';

    my $conf = <<"_EOC_";
worker_processes  $c{workers};
daemon $c{daemon};
master_process $c{master};
error_log $c{error_log} $c{log_level};
pid       $c{pid_file};
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env ASAN_OPTIONS;
$env
$main

http {
    access_log $c{access_log};
    @temp

    default_type text/plain;
    keepalive_timeout  68000ms;

$http

    server {
        listen          $c{server_port};
        server_name     '$server_name';
        client_max_body_size 30M;

        # Begin preamble config...
$c{preamble}
        # End preamble config...

        # Begin test case config...
$c{config}
        # End test case config.

$root_location    }
}

$c{post_main_config}

events {
    accept_mutex off;
    worker_connections  $c{worker_connections};
$events_use}

$user
_EOC_

    open my $out, '>', $c{conf_file}
        or die "Can't open $c{conf_file} for writing: $!\n";
    print $out $conf;
    close $out;
}

# ---------------------------------------------------------------------------
# Error log
# ---------------------------------------------------------------------------

# Lines of the error log from byte offset $$pos on; advances $$pos unless
# $accumulate. Returns an array ref (empty when there is no log).
sub read_error_log {
    my ($file, $pos, $accumulate) = @_;
    open my $in, '<', $file or return [];
    seek $in, $$pos, 0 if !$accumulate && $$pos > 0;
    my @lines = <$in>;
    $$pos = tell $in unless $accumulate;
    close $in;
    return \@lines;
}

1;
