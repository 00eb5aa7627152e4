package Caresync::Bench::Servers;

# The processes `make bench` measures: one redis-server and the three
# servers on the stock /usr/sbin/nginx, each either natively (a master
# and one worker, for wall-clock rounds) or as one process under
# callgrind (`master_process off; daemon off;`: the process is the
# worker, so its instruction counts are the worker's).
#
#   my $redis = redis_start(dir => …, callgrind => $prefix_or_undef);
#   my $s = Caresync::Bench::Servers->new('caresync', dir => …,
#                                         redis => $redis);
#   $s->start;  $s->start_callgrind($prefix);  $s->stop;
#   $s->{port}, $s->{url}, $s->stream, $s->worker_pid
#
# Processes started here are stopped when the script ends
# (Caresync::Worker's spawn; Caresync::RedisTopology's END kills them).

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter 'import';
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use Caresync::Worker ();    # spawn, wait_for, free_port, the RESP client
use Caresync::Bench::Callgrind;

our @EXPORT_OK = qw(@SERVERS redis_start redis_stop commandstats);

# In the order of every table the bench prints.
our @SERVERS = qw(ceiling openresty caresync);

my $ROOT   = abs_path(dirname(__FILE__) . '/../../../..');
my $NGINX  = '/usr/sbin/nginx';
my $LUADIR = '/usr/lib/nginx/modules';

# Where each server's jobs land; the ceiling queues nothing.  OpenResty's
# handler writes a stream of its own so that caresync's counts stay exact.
my %STREAM = (openresty => '{bench}:openresty', caresync => '{caresync}:jobs');

# Both servers that talk to Redis wait 10 s for its reply (OpenResty's in
# enroll.lua): under valgrind Redis answers slowly, and a timeout there
# would be a failed request, not a cost.
#
# The enrollment location of each server.  caresync runs with
# `caresync_auth off`: the two others authenticate nothing either, and
# the bars compare the same work.
my %LOCATION = (
    ceiling => <<'EOF',
        location = /webhook/user-enrollment {
            return 200 '{"success":true,"data":{"supportProgramId":"78ef982b-00ea-39c2-a875-f549c40e92ad","patientId":"ha61236024160af","externalId":"4aadb997-e9fd-3909-a2f0-833b821544bd"}}';
        }
EOF
    openresty => <<"EOF",
        location = /webhook/user-enrollment {
            set \$caresync_redis \@REDIS\@;
            client_body_buffer_size 16k;
            content_by_lua_file $ROOT/bench/openresty/enroll.lua;
        }
EOF
    caresync => <<'EOF',
        location = /webhook/user-enrollment {
            caresync_webhook helparound_enrollment;
            caresync_auth off;
        }
EOF
);

# --- Redis -------------------------------------------------------------------

# `hz 1` (and no dynamic hz): Redis's idle timer would otherwise be counted
# with the requests under callgrind.
sub redis_start {
    my (%o) = @_;
    my $dir = $o{dir};
    remove_tree($dir);
    make_path($dir);
    my $port = Caresync::Worker::free_port();
    my @cmd = ('redis-server', '--port', $port, '--bind', '127.0.0.1',
               '--save', '', '--appendonly', 'no', '--dir', $dir,
               '--hz', 1, '--dynamic-hz', 'no',
               # nginx's workers run as another user; the socket is as
               # open as the loopback port beside it
               '--unixsocket', "$dir/redis.sock", '--unixsocketperm', 777);
    unshift @cmd, Caresync::Bench::Callgrind::command($o{callgrind})
        if $o{callgrind};
    my $pid = Caresync::Worker::spawn("$dir/log", @cmd);
    my $r = Caresync::Worker::wait_for(sub {
        my $c = Caresync::Worker::Redis->new($port) or return;
        my $pong = eval { $c->cmd('PING') } // '';
        return $pong eq 'PONG' ? $c : undef;
    }, 120) or die "redis-server did not start (see $dir/log)\n";
    return { port => $port, pid => $pid, r => $r, dir => $dir,
             unix => "$dir/redis.sock",
             callgrind => $o{callgrind} };
}

sub redis_stop {
    my ($redis) = @_;
    kill 'TERM', $redis->{pid};
    _reap($redis->{pid}, 60);
}

# Calls per command since the start, from Redis's own accounting
# (`INFO commandstats`); a script's inner calls count as well.  With
# $usec, the microseconds Redis spent in each command instead.
sub commandstats {
    my ($r, $usec) = @_;
    my $info = $r->cmd('INFO', 'commandstats');
    return $usec ? { $info =~ /cmdstat_(\w+):calls=\d+,usec=(\d+)/g }
                 : { $info =~ /cmdstat_(\w+):calls=(\d+)/g };
}

# --- nginx -------------------------------------------------------------------

sub new {
    my ($class, $name, %o) = @_;
    my $self = bless { name => $name, dir => $o{dir}, redis => $o{redis},
                       port => Caresync::Worker::free_port() }, $class;
    $self->{url} = "http://127.0.0.1:$self->{port}/webhook/user-enrollment";
    $self->_write_conf;
    return $self;
}

sub stream { $STREAM{ $_[0]{name} } }

sub _write_conf {
    my ($self) = @_;
    my ($name, $dir) = @$self{qw(name dir)};
    # both servers that talk to Redis reach it the same way: TCP on
    # loopback, or its UNIX-domain socket with BENCH_REDIS=unix
    my $raddr = ($ENV{BENCH_REDIS} // 'tcp') eq 'unix'
                ? "unix:$self->{redis}{unix}"
                : "127.0.0.1:$self->{redis}{port}";
    my $module = $ENV{CARESYNC_MODULE}
                 // "$ROOT/build/ngx_http_caresync_module.so";
    -e $module or die "no $module: run make first\n";

    my %main = (
        ceiling   => '',
        openresty => "load_module $LUADIR/ndk_http_module.so;\n"
                     . "load_module $LUADIR/ngx_http_lua_module.so;\n",
        caresync  => "load_module $module;\n",
    );
    my %http = (
        ceiling   => '',
        openresty => "lua_package_path '/usr/share/lua/5.1/?.lua;;';",
        caresync  => "caresync_redis $raddr timeout=10s;\n    "
                     # the jobs sealed as in production, unless BENCH_SEAL=0
                     . (($ENV{BENCH_SEAL} // 1)
                        ? "caresync_job_key bench file:$dir/conf/job.key;"
                        : 'caresync_job_key off;'),
    );
    (my $location = $LOCATION{$name}) =~ s/\@REDIS\@/$raddr/g;

    remove_tree($dir);
    make_path("$dir/conf", "$dir/logs");
    if ($name eq 'caresync') {
        open my $kf, '>', "$dir/conf/job.key" or die "$dir: $!\n";
        print $kf unpack('H*', join '', map { chr int rand 256 } 1 .. 32),
                  "\n";
        close $kf;
        chmod 0600, "$dir/conf/job.key" or die "$dir/conf/job.key: $!\n";
    }
    open my $fh, '>', "$dir/conf/nginx.conf" or die "$dir: $!\n";
    print $fh <<"EOF";
$main{$name}
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    $http{$name}
    server {
        listen 127.0.0.1:$self->{port} backlog=1024;
        keepalive_requests 1000000;
$location
    }
}
EOF
    close $fh;
}

sub _nginx {
    my ($self, @args) = @_;
    return ($NGINX, '-p', "$self->{dir}/", '-c', 'conf/nginx.conf', @args);
}

# nginx -s / the daemon's start, its messages to its own log (the start
# warns of `caresync_auth off`); true when it exited 0.
sub _signal {
    my ($self, @args) = @_;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDOUT, '>>', "$self->{dir}/logs/stderr.log" or die $!;
        open STDERR, '>&', \*STDOUT or die $!;
        exec $self->_nginx(@args) or die "exec $NGINX: $!\n";
    }
    waitpid $pid, 0;
    return $? == 0;
}

sub _wait_listening {
    my ($self, $secs) = @_;
    Caresync::Worker::wait_for(sub {
        IO::Socket::INET->new("127.0.0.1:$self->{port}")
    }, $secs) or die "$self->{name}: nginx does not listen "
                     . "(see $self->{dir}/logs/error.log)\n";
}

# A master and one worker, as in production.
sub start {
    my ($self) = @_;
    $self->_signal
        or die "$self->{name}: nginx did not start "
               . "(see $self->{dir}/logs/error.log)\n";
    $self->_wait_listening(10);
    $self->{master} = do {
        local (@ARGV, $/) = "$self->{dir}/logs/nginx.pid";
        <>;
    };
    chomp $self->{master};
}

# One process, in the foreground, under callgrind.
sub start_callgrind {
    my ($self, $prefix) = @_;
    $self->{callgrind} = $prefix;
    $self->{pid} = Caresync::Worker::spawn(
        "$self->{dir}/logs/valgrind.log",
        Caresync::Bench::Callgrind::command($prefix),
        $self->_nginx('-g', 'daemon off; master_process off;'));
    $self->_wait_listening(120);
}

sub worker_pid {
    my ($self) = @_;
    return $self->{pid} if $self->{pid};
    my ($pid) = map { /^\s*(\d+)/ ? $1 : () }
                grep { /worker process/ }
                `ps -o pid=,args= --ppid $self->{master}`;
    return $pid;
}

sub stop {
    my ($self) = @_;
    if (my $pid = delete $self->{pid}) {
        kill 'QUIT', $pid;
        _reap($pid, 60);
    } elsif (my $master = delete $self->{master}) {
        $self->_signal('-s', 'quit');
        my $until = time + 10;
        sleep 0.05 while kill(0, $master) && time < $until;
    }
}

sub _reap {
    my ($pid, $secs) = @_;
    my $until = time + $secs;
    while (time < $until) {
        return if waitpid($pid, WNOHANG) != 0;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

1;
