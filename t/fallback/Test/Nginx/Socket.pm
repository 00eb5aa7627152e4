package Test::Nginx::Socket;

# A small stand-in for the CPAN Test::Nginx::Socket, used only where the
# real one is not installed (t/run puts t/fallback on PERL5LIB in that case).
#
# It implements the subset of the real module that caresync's .t files use,
# with the real module's semantics, so that every .t file passes unchanged
# under either. Data-driven like the real one: it is a Test::Base subclass,
# so blocks, sections and filters (chomp, eval, ...) are parsed by Test::Base
# itself. The code is our own; the behaviour was taken from the real
# module's documentation and source.
#
# Supported sections: main_config, http_config, post_main_config, config,
# request (string or array of strings), raw_request (string or array of
# packets, no delays), more_headers (string or array), error_code,
# error_code_like, response_body, response_body_like, response_body_unlike,
# response_body_filters (uc lc ucfirst lcfirst length md5_hex sha1_hex or
# code refs), response_headers (with "!Name" for absent),
# response_headers_like, raw_response_headers_like/unlike, error_log,
# no_error_log, access_log, no_access_log, timeout, abort, ignore_response,
# wait, log_level, init,
# ONLY / SKIP / LAST (Test::Base). A block using any other section the real
# module knows fails with a clear message instead of passing silently.
#
# Known differences from the real one:
#   * when nginx cannot be started, the block fails at once (the real one
#     retries for up to 30 s, then bails out of the whole run); only
#     "Address already in use" is retried, for up to 5 s;
#   * when the nginx process is gone, a request fails at once instead of
#     retrying the connection for up to ~45 s;
#   * no HUP reload, valgrind, stap, check-leak, benchmark, HTTP/2-3, curl,
#     embedded TCP/UDP servers, pipelined requests or delayed packets.

use strict;
use warnings;

use Test::Base ();
our @ISA = ('Test::Base');    # import(), blocks(), filters come from here

use Digest::MD5 ();
use Digest::SHA ();
use File::Spec ();
use IO::Socket::INET ();
use List::Util qw(shuffle min);
use Time::HiRes qw(sleep time);
use Test::More ();
use Test::LongString ();

use Test::Nginx::Fallback::HTTP ();
use Test::Nginx::Fallback::Server ();

our $VERSION = '0.01_fallback';

our @EXPORT = qw(
    env_to_nginx is_str run_tests repeat_each worker_connections
    master_process_enabled no_long_string workers master_on master_off
    log_level no_shuffle no_root_location server_name server_addr
    server_root html_dir server_port server_port_for_client timeout
    add_block_preprocessor add_response_body_check add_cleanup_handler
    add_test_cleanup_handler bail_out config_preamble check_accum_error_log
);

# ---------------------------------------------------------------------------
# Settings (same environment variables and defaults as the real one)
# ---------------------------------------------------------------------------

our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers           = 1;
our $WorkerConnections = 64;
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcess     = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $Daemon            = 'on';
our $ServerPort        = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $ServerAddr        = '127.0.0.1';
our $ServerName        = 'localhost';
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $Sleep             = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES};
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $EventType         = $ENV{TEST_NGINX_EVENT_TYPE};
our $RepeatEach        = 1;
our $NoLongString;
our $NoRootLocation    = 0;
our $ConfigPreamble    = '';
our @EnvToNginx;

our $ServRoot = $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfFile   = "$ServRoot/conf/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

our (@BlockPreprocessors, @ResponseBodyChecks, @CleanupHandlers,
     @TestCleanupHandlers);

our ($PrevConfig, $NginxPid, $NginxVersion, $NginxV, $ErrLogFilePos);
our $RandPorts = {};

# Sections of the real module that this one does not implement.
my @UNSUPPORTED = qw(
    pipelined_requests raw_request_middle_delay user_files tcp_listen
    tcp_reply tcp_query tcp_query_len udp_listen udp_reply udp_query stap
    stap_out stap_out_like stap_out_unlike grep_error_log grep_error_log_out
    curl curl_error http2 http3 must_die
    shutdown_error_log no_shutdown_error_log post_setup_server_root charset
    error_log_file server_name skip_nginx skip_nginx2 skip_eval skip_openssl
    skip_slave todo todo_nginx shutdown http09 reload_fails
    server_addr_for_client request_eval response_body_eval
    write_resp_body_file response_body_json_sort
);

# ---------------------------------------------------------------------------
# Exported settings functions
# ---------------------------------------------------------------------------

sub repeat_each { $RepeatEach = shift if @_; $RepeatEach }
sub worker_connections { @_ ? ($WorkerConnections = shift) : $WorkerConnections }
sub workers     { @_ ? ($Workers = shift) : $Workers }
sub log_level   { @_ ? ($LogLevel = shift) : $LogLevel }
sub timeout     { @_ ? ($Timeout = shift) : $Timeout }
sub server_name { @_ ? ($ServerName = shift) : $ServerName }
sub server_addr { @_ ? ($ServerAddr = shift) : $ServerAddr }
sub server_port { @_ ? ($ServerPort = shift) : $ServerPort }
sub server_port_for_client {
    @_ ? ($ServerPortForClient = shift) : $ServerPortForClient;
}
sub server_root { $ServRoot }
sub html_dir    { $HtmlDir }
sub master_on   { $MasterProcess = 'on' }
sub master_off  { $MasterProcess = 'off' }
sub master_process_enabled {
    return $MasterProcess unless @_;
    $MasterProcess = shift() ? 'on' : 'off';
}
sub no_shuffle         { $NoShuffle = 1 }
sub no_long_string     { $NoLongString = 1 }
sub no_root_location   { $NoRootLocation = 1 }
sub check_accum_error_log { $CheckAccumErrLog = 1 }
sub config_preamble    { $ConfigPreamble = shift }

sub env_to_nginx {
    die "env_to_nginx: no arguments specified\n" unless @_;
    for my $v (@_) {
        die "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

# Later registrations run first, as in the real one.
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_response_body_check    { push @ResponseBodyChecks, shift }
sub add_cleanup_handler        { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler   { unshift @TestCleanupHandlers, shift }

sub is_str {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

sub bail_out {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

sub parse_time {
    my ($t) = @_;
    return undef unless defined $t;
    if ($t =~ s/([^_a-zA-Z])ms$/$1/) {
        $t = $t / 1000;
    } else {
        $t =~ s/([^_a-zA-Z])s$/$1/;
    }
    return $t;
}

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp')
        or return undef;
    my $p = $s->sockport;
    close $s;
    return $p;
}

# $TEST_NGINX_FOO -> $ENV{TEST_NGINX_FOO}; $TEST_NGINX_RAND_PORT_N -> a free
# port, the same one for the whole block. Unknown variables bail out, as in
# the real one.
sub expand_env_in_text {
    my ($text, $name) = @_;
    return undef unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $val = $RandPorts->{$var} //= free_port()
                // bail_out("$name - Cannot find an available port for $var.\n");
        } else {
            bail_out("$name - No environment $var defined.\n")
                unless defined $ENV{$var};
            $val = $ENV{$var};
        }
        $val;
    }ge;
    return $text;
}

sub fmt_str {
    my ($s) = @_;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub builder { Test::More->builder }

# A failure of the harness itself (nginx not starting, socket errors).
sub infra_fail {
    my ($msg) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    Test::More::fail($msg);
}

sub nginx_version {
    return $NginxVersion if defined $NginxVersion;
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the version of the nginx binary "
                 . "\"$NginxBinary\": " . ($out // ''));
    }
    $NginxV = $out;
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        return $NginxVersion = sprintf "%d.%03d%03d", $1, $2, $3;
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

# The whole access log, as the real one reads it (the server root, logs
# included, is made anew whenever nginx is started for a block).
sub access_log_data {
    sleep $Sleep * 3;
    open my $in, '<', $AccLogFile or die "open $AccLogFile failed: $!\n";
    my @lines = <$in>;
    close $in;
    return \@lines;
}

sub error_log_data {
    # for messages logged after the server has closed the connection
    sleep $Sleep * 3;
    return Test::Nginx::Fallback::Server::read_error_log(
        $ErrLogFile, \$ErrLogFilePos, $CheckAccumErrLog);
}

# ---------------------------------------------------------------------------
# nginx lifecycle
# ---------------------------------------------------------------------------

sub stop_nginx {
    my $pid = Test::Nginx::Fallback::Server::read_pid_file($PidFile) // $NginxPid;
    if (defined $pid) {
        Test::Nginx::Fallback::Server::stop_pid(
            $pid, $Timeout, $ENV{TEST_NGINX_FAST_SHUTDOWN});
    }
    unlink $PidFile if -f $PidFile;
    undef $NginxPid;
}

sub nginx_is_gone {
    return defined $NginxPid
        && !Test::Nginx::Fallback::Server::is_running($NginxPid);
}

# Returns (ok, dry_run reason).
sub start_nginx {
    my ($block, $config) = @_;
    my $name = $block->name;

    stop_nginx();

    eval {
        Test::Nginx::Fallback::Server::setup_server_root($ServRoot);
        my @modules = grep { length } split /\s+/, $LoadModules // '';
        Test::Nginx::Fallback::Server::write_config(
            root => $ServRoot, conf_file => $ConfFile,
            error_log => $ErrLogFile,
            pid_file => $PidFile, access_log => $AccLogFile,
            workers => $Workers, daemon => $Daemon, master => $MasterProcess,
            log_level => $block->log_level || $LogLevel,
            env => \@EnvToNginx, load_modules => \@modules,
            main_config => expand_env_in_text($block->main_config // '', $name),
            http_config => expand_env_in_text($block->http_config // '', $name),
            post_main_config =>
                expand_env_in_text($block->post_main_config // '', $name),
            config => $config, preamble => $ConfigPreamble,
            server_port => $ServerPort, server_name => $ServerName,
            worker_connections => $WorkerConnections,
            no_root_location => $NoRootLocation, event_type => $EventType,
            nginx_V => $NginxV,
        );
        1;
    } or bail_out("$name - $@");

    my $cmd = $NginxBinary;
    $cmd .= " -e $ErrLogFile" if $NginxVersion >= 1.019005;
    $cmd .= " -p $ServRoot/ -c $ConfFile > /dev/null";

    $ErrLogFilePos = 0;
    my $give_up_at = time + 5;
    for (my $try = 1; ; $try++) {
        system($cmd);
        my $status = $?;
        last if $status == 0;

        my $log = Test::Nginx::Fallback::Server::read_error_log(
            $ErrLogFile, \(my $pos = 0), 1);

        if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES}) {
            for (@$log) {
                return (1, "the lack of directive $1")
                    if /\[emerg\] \S+?: unknown directive "([^"]+)"/;
            }
        }

        if (grep { /Address already in use/ } @$log) {
            # The previous nginx may still hold the port for a moment;
            # someone else holding it makes every block fail: stop there,
            # as the real one does.
            bail_out("$name - port $ServerPort stays in use; set "
                     . "TEST_NGINX_SERVER_PORT to a free port") if time >= $give_up_at;
            sleep min(0.1 * $try, 1);
            next;
        }

        infra_fail("$name - Cannot start nginx using command \"$cmd\" "
                   . "(status code $status).");
        Test::More::diag($_) for grep { /\[(?:emerg|alert|crit)\]/ } @$log;
        return (0);
    }

    # The daemon writes its pid file just after forking.
    for (1 .. 100) {
        last if defined($NginxPid =
            Test::Nginx::Fallback::Server::read_pid_file($PidFile));
        sleep 0.01;
    }
    sleep $Sleep;
    return (1, 0);
}

sub cleanup {
    $_->() for @CleanupHandlers;
}

# ---------------------------------------------------------------------------
# Running the blocks
# ---------------------------------------------------------------------------

sub run_tests {
    nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_block($block);
        $_->($block) for @TestCleanupHandlers;
    }

    cleanup();
}

sub run_block {
    my ($block) = @_;
    return if defined $block->SKIP;
    my $name = $block->name;

    for my $s (@UNSUPPORTED) {
        next unless exists $block->{$s};
        infra_fail("$name - section \"--- $s\" is not supported by the "
                   . "fallback Test::Nginx::Socket (t/fallback); install "
                   . "the real Test::Nginx or drop the section");
        return;
    }

    $RandPorts = {};
    my $config = expand_env_in_text(scalar($block->config), $name);
    my $dry_run = 0;

    if (defined $config) {
        $PrevConfig = $config;
        my ($ok, $reason) = start_nginx($block, $config);
        return unless $ok;
        $dry_run = $reason if $reason;
    } elsif (!defined $PrevConfig) {
        bail_out("$name - No '--- config' section specified and could not "
                 . "get previous one.");
    }
    # No config: the nginx of the previous block goes on serving.

    if (defined $block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        run_requests($block, $dry_run, $i);
    }
}

# The requests of a block, each as the list of byte strings to write.
sub requests_of {
    my ($block) = @_;
    my $name = $block->name;

    if (defined $block->raw_request) {
        my $raw = $block->raw_request;
        return [ ref $raw eq 'ARRAY' ? join('', @$raw) : $raw ];
    }

    my $request = $block->request;
    bail_out("$name - request empty") unless defined $request;
    my $more = $block->more_headers // '';

    my $one = sub {
        my ($text, $i) = @_;
        my $hdr_text = $more;
        if (ref $more eq 'ARRAY') {
            $hdr_text = $more->[$i];
            bail_out("$name - --- more_headers lacks data for the ${i}th request")
                unless defined $hdr_text;
        }
        bail_out("$name - request packets (arrays of arrays) are not "
                 . "supported by the fallback") if ref $text;
        my ($hdr, $chunked) =
            Test::Nginx::Fallback::HTTP::format_more_headers($hdr_text);
        my $bytes = eval {
            Test::Nginx::Fallback::HTTP::build_request(
                text => $text, headers => $hdr, chunked => $chunked,
                server_name => $ServerName, connection => 'close');
        };
        bail_out("$name - $@") unless defined $bytes;
        return $bytes;
    };

    if (!ref $request) {
        # leading comment lines and blank space go (a single request only)
        1 while $request =~ s/\A\s*#[^\n]+\s+|\A\s+//;
        return [ $one->($request, 0) ];
    }
    if (ref $request eq 'ARRAY') {
        my $i = 0;
        return [ map { $one->($_, $i++) } @$request ];
    }
    bail_out("$name - invalid --- request: MUST be string or array of requests");
}

sub send_one {
    my ($block, $bytes, $timeout) = @_;
    my $name = $block->name;

    for (my $tries = 1; ; $tries++) {
        my $r = Test::Nginx::Fallback::HTTP::send_and_receive(
            host => $ServerAddr, port => $ServerPortForClient,
            bytes => $bytes, timeout => $timeout);

        if (defined $r->{connect_error}) {
            if (nginx_is_gone()) {
                infra_fail("$name - Can't connect to $ServerAddr:"
                           . "$ServerPortForClient: $r->{connect_error} "
                           . "(the nginx process $NginxPid is gone)");
                return '';
            }
            if ($tries < 50) {
                my $wait = min(($Sleep + $Sleep * $tries) * $tries / 2, 1);
                sleep $wait;
                next;
            }
            infra_fail("$name - Can't connect to $ServerAddr:"
                       . "$ServerPortForClient: $r->{connect_error} (aborted)");
            return '';
        }

        if ($r->{timed_out}) {
            if (defined $block->abort) {
                sleep 0.005;
            } else {
                infra_fail("ERROR: client socket timed out - $name\n");
            }
        }
        return $r->{resp};
    }
}

sub run_requests {
    my ($block, $dry_run, $repeated_idx) = @_;
    my $name = $block->name;

    my $reqs = requests_of($block);
    my $timeout = parse_time(scalar $block->timeout) // $Timeout;
    my $need_array = @$reqs > 1;

    for my $idx (0 .. $#$reqs) {
        my $raw;
        if ($dry_run) {
            $raw = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        } else {
            $raw = send_one($block, $reqs->[$idx], $timeout);
        }

        if (!defined $block->ignore_response) {
            my $is_head = $reqs->[$idx] =~ /^\s*HEAD\s+/ ? 1 : 0;
            my ($res, $raw_headers, $left, $err) =
                Test::Nginx::Fallback::HTTP::parse_response($raw, $is_head);
            if (defined $err) {
                infra_fail("$name - $err");
                $raw_headers //= '';
            }
            if (defined $left && length $left) {
                (my $shown = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last "
                   . "chunk in response: \"$shown\"\n";
            }

            check_error_code($block, $res, $dry_run, $idx, $need_array);
            check_raw_response_headers($block, $raw_headers, $dry_run, $idx,
                                       $need_array);
            check_response_headers($block, $res, $raw_headers, $dry_run, $idx,
                                   $need_array);
            transform_response_body($block, $res, $idx);
            check_response_body($block, $res, $dry_run, $idx, $repeated_idx,
                                $need_array);
        }

        if ($idx < $#$reqs) {
            sleep parse_time(scalar $block->wait) if $block->wait;
            check_error_log($block, $dry_run, $repeated_idx);
            check_access_log($block, $dry_run, $repeated_idx)
                unless defined $block->ignore_response;
        }
    }

    sleep parse_time(scalar $block->wait) if $block->wait;
    check_error_log($block, $dry_run, $repeated_idx);
    check_access_log($block, $dry_run, $repeated_idx)
        unless defined $block->ignore_response;
}

# ---------------------------------------------------------------------------
# Checks (same test names and counts as the real one)
# ---------------------------------------------------------------------------

sub indexed {
    my ($name, $value, $idx, $need_array) = @_;
    if (ref $value && ref $value eq 'ARRAY') {
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need array.")
            if !$need_array && $idx != 0;
        return $value->[$idx];
    }
    bail_out("$name - You asked for many requests, the expected results "
             . "should be arrays as well.") if $need_array;
    return $value;
}

sub skip_if_dry {
    my ($dry_run, $what) = @_;
    return 0 unless $dry_run;
    Test::More->builder->skip("$what - tests skipped due to $dry_run");
    return 1;
}

sub check_error_code {
    my ($block, $res, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    return if skip_if_dry($dry_run, $name);
    my $got = ($res && $res->code) || '';
    if (defined $block->error_code_like) {
        my $pat = indexed($name, scalar($block->error_code_like), $idx, $need_array);
        Test::More::like($got, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        Test::More::is($got, indexed($name, scalar($block->error_code), $idx, $need_array),
                       "$name - status code ok");
    } else {
        Test::More::is($got, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers {
    my ($block, $raw_headers, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    if (defined $block->raw_response_headers_like) {
        my $pat = indexed($name, scalar($block->raw_response_headers_like), $idx, $need_array);
        Test::More::like($raw_headers, qr/$pat/s, "$name - raw resp headers like")
            unless skip_if_dry($dry_run, "$name - raw_response_headers_like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $pat = indexed($name, scalar($block->raw_response_headers_unlike), $idx, $need_array);
        Test::More::unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike")
            unless skip_if_dry($dry_run, "$name - raw_response_headers_unlike");
    }
}

# "Name: value" lines; "!Name" means the header must be absent.
sub parse_headers {
    my ($text) = @_;
    my %h;
    for my $line (split /\n/, $text // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            $h{$line} = undef;
        } else {
            my ($k, $v) = split /\s*:\s*/, $line, 2;
            $h{$k} = $v;
        }
    }
    return \%h;
}

sub check_response_headers {
    my ($block, $res, $raw_headers, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $h = parse_headers(indexed($name, scalar($block->response_headers), $idx,
                                      $need_array));
        while (my ($key, $val) = each %$h) {
            if (!defined $val) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                    "$name - header $key not present in the raw headers")
                    unless skip_if_dry($dry_run, "$name - response_headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $got = $res ? $res->header($key) : undef;
            Test::More::is($got // '', $val, "$name - header $key ok")
                unless skip_if_dry($dry_run, "$name - response_headers");
        }
    } elsif (defined $block->response_headers_like) {
        my $h = parse_headers(indexed($name, scalar($block->response_headers_like), $idx,
                                      $need_array));
        while (my ($key, $val) = each %$h) {
            my $got = $res ? $res->header($key) : undef;
            Test::More::like($got // '', qr/^$val$/, "$name - header $key like ok")
                unless skip_if_dry($dry_run, "$name - response_headers_like");
        }
    }
}

sub transform_response_body {
    my ($block, $res, $idx) = @_;
    return unless defined $res && defined $res->content;
    my $filters = $block->response_body_filters;
    return unless defined $filters;
    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [ split /\s+/, $filters ];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    if (ref $filters->[0] eq 'ARRAY') {    # one list per request
        $filters = $filters->[$idx];
        bail_out("$name - the --- response_body_filters two-dimensional array "
                 . "unmatch the specified request($idx)") unless defined $filters;
    }

    my %named = (
        md5_hex  => \&Digest::MD5::md5_hex, sha1_hex => \&Digest::SHA::sha1_hex,
        uc => sub { uc $_[0] }, lc => sub { lc $_[0] },
        ucfirst => sub { ucfirst $_[0] }, lcfirst => sub { lcfirst $_[0] },
        length => sub { length $_[0] },
    );
    my $content = $res->content;
    for my $f (ref $filters eq 'ARRAY' ? @$filters : ($filters)) {
        my $code = ref $f eq 'CODE' ? $f : $named{$f}
            // bail_out("$name - unknown filter, \"$f\", specified in the "
                        . "--- response_body_filters section");
        $content = $code->($content);
    }
    $res->content($content);
}

sub check_response_body {
    my ($block, $res, $dry_run, $idx, $repeated_idx, $need_array) = @_;
    my $name = $block->name;

    my $content = $res ? $res->content : undef;
    if (defined $content) {
        $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
        $content =~ s/^Connection: TE, close\r\n//gms;
    }

    if (defined $block->response_body) {
        my $expected = indexed($name, scalar($block->response_body), $idx, $need_array);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected = expand_env_in_text($expected, $name);
        }
        my $desc = "$name - response_body - response is expected "
                 . "(repeated req $repeated_idx, req $idx)";
        if (!skip_if_dry($dry_run, "$name - response_body")) {
            if (ref $expected) {
                Test::More::like($content, $expected,
                    "$name - response_body - like (repeated req $repeated_idx, req $idx)");
            } elsif ($NoLongString) {
                Test::More::is($content, $expected, $desc);
            } else {
                Test::LongString::is_string($content, $expected, $desc);
            }
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my ($type, $patterns, $cmp) = defined $block->response_body_like
            ? ('like', $block->response_body_like, \&Test::More::like)
            : ('unlike', $block->response_body_unlike, \&Test::More::unlike);
        my $pat = indexed($name, $patterns, $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = $content // '';
        $summary =~ s/^\s+|\s+$//g;
        $summary =~ s/\s+/ /g;
        $cmp->($content, qr/$pat/s,
               "$name - response_body_$type - response is expected ($summary)")
            unless skip_if_dry($dry_run, "$name - response_body_$type");
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $idx, $repeated_idx,
                 $dry_run);
    }
}

sub value_contains {
    my ($val, $pat) = @_;
    return $val =~ /\Q$pat\E/ if !ref $val || ref $val eq 'Regexp';
    if (ref $val eq 'ARRAY') {
        for (@$val) { return 1 if value_contains($_, $pat) }
    }
    return undef;
}

sub pattern_list {
    my ($pats) = @_;
    if (!ref $pats) {
        chomp $pats;
        return [ split /\n+/, $pats ];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub line_matches {
    my ($line, $pat) = @_;
    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}

# --- error_log / --- access_log: each pattern must match some line of
# the log; one pass or fail per pattern.
sub expect_lines {
    my ($name, $pats, $lines, $file, $section, $dry_run, $idx) = @_;
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next unless defined $pat && line_matches($line, $pat);
            Test::More::pass("$name - pattern \"$pat\" matches a line in "
                             . "$file (req $idx)")
                unless skip_if_dry($dry_run, "$name - $section");
            undef $pat;
        }
    }
    for my $pat (grep { defined } @$pats) {
        Test::More::fail("$name - pattern \"$pat\" should match a line in "
                         . "$file (req $idx)")
            unless skip_if_dry($dry_run, "$name - $section");
    }
}


sub check_error_log {
    my ($block, $dry_run, $repeated_idx) = @_;
    my $name = $block->name;
    my $lines;
    my %warn_level = (alert => 1, crit => 1, emerg => 1);

    if (defined $block->error_log) {
        my $pats = $block->error_log;
        for my $l (keys %warn_level) {
            delete $warn_level{$l} if value_contains($pats, "[$l");
        }
        $pats = pattern_list($pats);
        $lines ||= error_log_data();
        expect_lines($name, $pats, $lines, 'error.log', 'error_log',
                     $dry_run, $repeated_idx);
    }

    if (defined $block->no_error_log) {
        my $pats = $block->no_error_log;
        for my $l (keys %warn_level) {
            delete $warn_level{$l} if value_contains($pats, "[$l");
        }
        $pats = pattern_list($pats);
        my %found;
        $lines ||= error_log_data();
        for my $i (0 .. $#$lines) {
            my $line = $lines->[$i];
            for my $pat (@$pats) {
                next unless defined $pat && line_matches($line, $pat);
                $found{$pat} = 1;
                next if skip_if_dry($dry_run, "$name - no_error_log");
                my @more = @$lines[$i + 1 .. min($i + 9, $#$lines - 1)];
                Test::More::fail("$name - pattern \"" . fmt_str($pat)
                    . "\" should not match any line in error.log but matches "
                    . "line \"" . fmt_str($line) . "\" (req $repeated_idx)\n"
                    . join('', @more));
            }
        }
        for my $pat (grep { defined && !$found{$_} } @$pats) {
            Test::More::pass("$name - pattern \"" . fmt_str($pat)
                             . "\" does not match a line in error.log "
                             . "(req $repeated_idx)")
                unless skip_if_dry($dry_run, "$name - no_error_log");
        }
    }

    if (!$dry_run) {
        $lines ||= error_log_data();
        for my $line (@$lines) {
            for my $l (sort keys %warn_level) {
                warn "WARNING: $name - " . fmt_str($line) . "\n"
                    if $line =~ /\[$l\]/;
            }
        }
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}

# --- access_log / --- no_access_log: as --- error_log / --- no_error_log,
# over the whole access log, after every request of the block. Unlike the
# real one, waits (at most 5 s) for the lines --- access_log expects.
sub check_access_log {
    my ($block, $dry_run, $repeated_idx) = @_;
    my $name = $block->name;
    my $lines;

    if (defined $block->access_log) {
        my $pats = pattern_list($block->access_log);
        # the line is written when nginx closes the request, which may be
        # after the client has its answer: on a busy machine, a while after
        my $until = time + 5;
        while (1) {
            $lines = access_log_data();
            my @missing = grep {
                my $pat = $_;
                !grep { line_matches($_, $pat) } @$lines;
            } grep { defined } @$pats;
            last if !@missing || $dry_run || time >= $until;
        }
        expect_lines($name, $pats, $lines, 'access.log', 'access_log',
                     $dry_run, $repeated_idx);
    }

    if (defined $block->no_access_log) {
        my $pats = pattern_list($block->no_access_log);
        my %found;
        $lines ||= access_log_data();
        for my $i (0 .. $#$lines) {
            my $line = $lines->[$i];
            for my $pat (@$pats) {
                next unless defined $pat && line_matches($line, $pat);
                $found{$pat} = 1;
                next if skip_if_dry($dry_run, "$name - no_access_log");
                Test::More::fail("$name - pattern \"" . fmt_str($pat)
                    . "\" should not match any line in access.log but "
                    . "matches line \"" . fmt_str($line) . "\" (req "
                    . "$repeated_idx)");
            }
        }
        for my $pat (grep { defined && !$found{$_} } @$pats) {
            Test::More::pass("$name - pattern \"" . fmt_str($pat)
                             . "\" does not match a line in access.log "
                             . "(req $repeated_idx)")
                unless skip_if_dry($dry_run, "$name - no_access_log");
        }
    }
}

END {
    cleanup();
    if (!$ENV{TEST_NGINX_NO_CLEAN}) {
        local $?;    # keep Test::Builder's exit code
        stop_nginx();
    }
}

1;
