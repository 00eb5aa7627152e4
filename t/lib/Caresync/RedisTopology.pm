package Caresync::RedisTopology;

# Real Redis topologies for the drills, on loopback and free ports: a
# primary with replicas, a Sentinel set watching them, a Redis Cluster of
# primaries, a Redis speaking TLS with certificates made by `openssl` for
# the test.  Plain Perl (no Test::Nginx, no worker), so that the worker's
# tests and the module's alike can use it.  Every process started here is
# one of ours and is killed when the test ends (never by name).
#
#   my $set = start_sentinel_set(dir => $dir, replicas => 1);
#   # $set->{primary}{port}, $set->{replicas}[0]{port},
#   # $set->{sentinels}[i]{port}, $set->{master_name},
#   # $set->{sentinel_list} ("127.0.0.1:p1 127.0.0.1:p2 ...")
#   kill_node($set->{primary});
#   my ($host, $port) = sentinel_primary($set);    # as the sentinels say
#
#   my $c = start_cluster(dir => $dir, primaries => 3);
#   # $c->{nodes}[i]{port}; cluster_slot_owner($c, $slot) -> node
#   move_slot($c, $slot, $node)             # a resharding of one slot
#
#   my $t = start_tls_redis(dir => $dir, auth_clients => 'yes');
#   # $t->{port} (TLS), $t->{plain_port}, $t->{ca}, $t->{other_ca},
#   # $t->{client_cert}, $t->{client_key}
#
#   rcli($node, 'INFO', 'replication')     # redis-cli, TLS when it is
#   key_slot('{caresync:0}:jobs')           # Redis Cluster's CRC16 slot
#   shard_of($idempotency_key, $n)          # an event's shard, 0..n-1
#   shard_prefix('{caresync}', $i, $n)      # '{caresync:i}' ('{caresync}'
#                                           # when n = 1)

use strict;
use warnings;

use Exporter ();
our @ISA = ('Exporter');
our @EXPORT = qw(start_redis_node start_replicated start_sentinel_set
                 sentinel_primary wait_sentinel_primary kill_node
                 start_cluster cluster_slot_owner move_slot start_tls_redis rcli
                 key_slot shard_of shard_prefix free_port_pair
                 topology_wait spawn_process forget_process);

use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my @PIDS;
my $NODE = 0;

# A free loopback port whose cluster bus (port + 10000) is free too.
sub free_port_pair {
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => 0, ReuseAddr => 1)
            or die "no free port: $!";
        my $p = $s->sockport;
        close $s;
        next if $p > 55535;
        my $b = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => $p + 10000,
                                      ReuseAddr => 1) or next;
        close $b;
        return $p;
    }
    die 'no free port pair';
}

# Polls `$cond` every 20 ms until true or `$timeout` seconds (default 10)
# pass; its value, or undef (Caresync::Worker's wait_for too).
sub topology_wait {
    my ($cond, $timeout) = @_;
    my $end = time + ($timeout // 10);
    while (time < $end) {
        my $v = $cond->();
        return $v if $v;
        sleep 0.02;
    }
    return undef;
}

# Starts @cmd with stdout and stderr appended to $log; the process is
# killed when the test ends unless forget_process() is told it is gone.
# The one way the test helpers start a process (Caresync::Worker too).
sub spawn_process {
    my ($log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or die;
        open STDERR, '>>', $log or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    push @PIDS, $pid;
    return $pid;
}

sub forget_process {
    my ($pid) = @_;
    @PIDS = grep { $_ != $pid } @PIDS;
}

# Redis processes: without the ASan runtime preloaded for nginx
sub spawn {
    my ($log, @cmd) = @_;
    delete local $ENV{LD_PRELOAD};
    return spawn_process($log, @cmd);
}

# redis-cli against a node (TLS when the node is); the output, chomped.
sub rcli {
    my ($node, @args) = @_;
    my @auth = $node->{password} ? ('--no-auth-warning', '-a',
                                    $node->{password}) : ();
    my @tls = $node->{tls}
        ? ('--tls', '--cacert', $node->{tls}{ca},
           '--cert', $node->{tls}{client_cert},
           '--key', $node->{tls}{client_key})
        : ();
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        delete $ENV{LD_PRELOAD};
        open STDERR, '>', '/dev/null';
        exec 'redis-cli', '-h', $node->{host} // '127.0.0.1',
             '-p', $node->{port}, @auth, @tls, @args;
        exit 127;
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\s+\z//;
    return $out;
}

sub dir_of {
    my (%o) = @_;
    return $o{dir} // tempdir('cw-topo-XXXXXX', TMPDIR => 1, CLEANUP => 1);
}

# One redis-server: { pid, host, port, dir, log }.  %o: dir, port, bind
# (default 127.0.0.1; any 127.x.y.z is loopback), args => [...] (more
# redis-server options), tls => a start_tls_redis certificate set,
# password => what rcli() authenticates with (args set requirepass).
sub start_redis_node {
    my (%o) = @_;
    my $dir = dir_of(%o);
    my $n = ++$NODE;
    my $port = $o{port} // free_port_pair();
    my $ndir = "$dir/node$n";
    mkdir $ndir;
    my $host = $o{bind} // '127.0.0.1';
    my @cmd = ('redis-server', '--bind', $host, '--save', '',
               '--appendonly', 'no', '--dir', $ndir,
               '--protected-mode', 'no');
    # the last of an option wins: `args` may add a plaintext --port
    push @cmd, $o{tls} ? ('--port', 0, '--tls-port', $port) : ('--port', $port);
    push @cmd, @{ $o{args} // [] };
    my $node = { port => $port, dir => $ndir, log => "$ndir/redis.log",
                 tls => $o{tls}, host => $host, password => $o{password} };
    $node->{pid} = spawn($node->{log}, @cmd);
    topology_wait(sub { rcli($node, 'PING') eq 'PONG' }, 10)
        or die "redis-server on $port did not start (see $node->{log})";
    return $node;
}

# SIGKILL: the node is gone at once, as in a crash.
sub kill_node {
    my ($node) = @_;
    kill 'KILL', $node->{pid};
    waitpid($node->{pid}, 0);
    forget_process($node->{pid});
    $node->{dead} = 1;
}

# A primary and `replicas` replicas (default 1), linked and in sync;
# `password`: every node requires it (and replicas use it).
sub start_replicated {
    my (%o) = @_;
    my $dir = dir_of(%o);
    my @auth = $o{password} ? ('--requirepass', $o{password},
                               '--masterauth', $o{password}) : ();
    my $primary = start_redis_node(dir => $dir, args => \@auth,
                                   password => $o{password});
    my @replicas;
    for (1 .. ($o{replicas} // 1)) {
        push @replicas, start_redis_node(dir => $dir, args => [@auth,
            '--replicaof', '127.0.0.1', $primary->{port}],
            password => $o{password});
    }
    for my $r (@replicas) {
        topology_wait(sub { rcli($r, 'INFO', 'replication')
                            =~ /master_link_status:up/ }, 15)
            or die "replica $r->{port} did not sync";
    }
    return { dir => $dir, primary => $primary, replicas => \@replicas };
}

# A primary, its replicas and `sentinels` sentinels (default 3, quorum 2)
# that all see each other and the replicas: ready for a failover drill.
# down_after_ms (default 1000) and failover_timeout_ms (default 5000) are
# what bound the drill's failover time; password (the data nodes') and
# sentinel_password (the sentinels' own requirepass).
sub start_sentinel_set {
    my (%o) = @_;
    my $set = start_replicated(%o);
    my $dir = $set->{dir};
    my $name = $o{master_name} // 'cs-primary';
    my $ns = $o{sentinels} // 3;
    my $quorum = $o{quorum} // int($ns / 2) + 1;
    my @sentinels;
    for my $i (1 .. $ns) {
        my $port = free_port_pair();
        my $sdir = "$dir/sentinel$i";
        mkdir $sdir;
        # sentinel rewrites its file: one each, writable
        open my $fh, '>', "$sdir/sentinel.conf" or die;
        print $fh <<"CONF";
port $port
bind 127.0.0.1
protected-mode no
dir $sdir
sentinel monitor $name 127.0.0.1 $set->{primary}{port} $quorum
sentinel down-after-milliseconds $name @{[ $o{down_after_ms} // 1000 ]}
sentinel failover-timeout $name @{[ $o{failover_timeout_ms} // 5000 ]}
sentinel parallel-syncs $name 1
@{[ $o{password} ? "sentinel auth-pass $name $o{password}" : '' ]}
@{[ $o{sentinel_password} ? "requirepass $o{sentinel_password}" : '' ]}
CONF
        close $fh;
        my $s = { port => $port, dir => $sdir, log => "$sdir/sentinel.log",
                  sentinel => 1, password => $o{sentinel_password} };
        $s->{pid} = spawn($s->{log}, 'redis-sentinel', "$sdir/sentinel.conf");
        push @sentinels, $s;
    }
    my $nr = scalar @{ $set->{replicas} };
    for my $s (@sentinels) {
        topology_wait(sub {
            my $m = rcli($s, 'SENTINEL', 'master', $name);
            my %f = split /\n/, $m;
            ($f{'num-other-sentinels'} // -1) == $ns - 1
                && ($f{'num-slaves'} // -1) == $nr;
        }, 30) or die "sentinel $s->{port} does not see the set "
                      . "(see $s->{log})";
    }
    $set->{sentinels} = \@sentinels;
    $set->{master_name} = $name;
    $set->{sentinel_list} = join ' ', map { "127.0.0.1:$_->{port}" }
                                      @sentinels;
    return $set;
}

# (host, port) of the primary as the first live sentinel says.
sub sentinel_primary {
    my ($set) = @_;
    for my $s (@{ $set->{sentinels} }) {
        next if $s->{dead};
        my @a = split /\n/, rcli($s, 'SENTINEL', 'get-master-addr-by-name',
                                 $set->{master_name});
        return @a if @a == 2;
    }
    return;
}

# Waits until the sentinels name a primary on another port than $old and
# that node says it is a master; returns the node (from the set).
sub wait_sentinel_primary {
    my ($set, $old, $timeout) = @_;
    my $node;
    topology_wait(sub {
        my (undef, $port) = sentinel_primary($set);
        return 0 unless $port && $port != $old;
        ($node) = grep { $_->{port} == $port } @{ $set->{replicas} };
        $node && rcli($node, 'ROLE') =~ /\Amaster/;
    }, $timeout // 30) or return;
    return $node;
}

# CRC16-CCITT (XMODEM), as Redis Cluster computes it
sub crc16 {
    my ($s) = @_;
    my $crc = 0;
    for my $c (unpack 'C*', $s) {
        $crc ^= $c << 8;
        for (1 .. 8) {
            $crc = $crc & 0x8000 ? (($crc << 1) ^ 0x1021) & 0xffff
                                 : ($crc << 1) & 0xffff;
        }
    }
    return $crc;
}

# Redis Cluster's slot of a key: CRC16 of its hash tag, mod 16384.
sub key_slot {
    my ($key) = @_;
    if ($key =~ /\{([^}]+)\}/) { $key = $1 }
    return crc16($key) % 16384;
}

# The shard of an event (docs/decisions.md, "Redis: failover, TLS,
# Cluster and shards"): CRC16 of its dedupe key (the envelope's
# idempotency_key), mod N.  And the prefix of shard i of N: N = 1 is the
# prefix unchanged, else `{caresync}` becomes `{caresync:i}`.
sub shard_of {
    my ($dedupe_key, $n) = @_;
    return $n > 1 ? crc16($dedupe_key) % $n : 0;
}

sub shard_prefix {
    my ($prefix, $i, $n) = @_;
    return $prefix if ($n // 1) <= 1;
    $prefix =~ s/\{([^}]+)\}/{$1:$i}/ or die "no hash tag in $prefix";
    return $prefix;
}

# `primaries` (default 3) cluster-enabled nodes made one cluster by
# `redis-cli --cluster create`; returns { nodes => [...] } once every node
# says cluster_state:ok.
sub start_cluster {
    my (%o) = @_;
    my $dir = dir_of(%o);
    my $np = $o{primaries} // 3;
    my @nodes;
    for (1 .. $np) {
        my $port = free_port_pair();
        push @nodes, start_redis_node(dir => $dir, port => $port, args => [
            '--cluster-enabled', 'yes',
            '--cluster-config-file', "nodes-$port.conf",
            '--cluster-node-timeout', $o{node_timeout_ms} // 2000]);
    }
    my @addrs = map { "127.0.0.1:$_->{port}" } @nodes;
    my $pid = fork // die;
    if ($pid == 0) {
        delete $ENV{LD_PRELOAD};
        open STDOUT, '>>', "$dir/cluster-create.log";
        open STDERR, '>&', \*STDOUT;
        exec 'redis-cli', '--cluster', 'create', @addrs,
             '--cluster-replicas', 0, '--cluster-yes';
        exit 127;
    }
    waitpid($pid, 0);
    die "redis-cli --cluster create failed (see $dir/cluster-create.log)"
        if $?;
    for my $n (@nodes) {
        topology_wait(sub { rcli($n, 'CLUSTER', 'INFO')
                            =~ /cluster_state:ok/ }, 30)
            or die "cluster node $n->{port} is not ok";
    }
    return { dir => $dir, nodes => \@nodes };
}

# Moves `slot` with its keys to node $to, as a resharding does
# (IMPORTING / MIGRATING, MIGRATE in batches, then SETSLOT NODE on every
# node).  `pause` (seconds) waits between the batches: a slot that moves
# slowly, for clients to meet ASK in between.  Returns the keys moved.
sub move_slot {
    my ($c, $slot, $to, %o) = @_;
    my $from = cluster_slot_owner($c, $slot) or die "no owner of $slot";
    return 0 if $from->{port} == $to->{port};
    my $fid = rcli($from, 'CLUSTER', 'MYID');
    my $tid = rcli($to, 'CLUSTER', 'MYID');
    rcli($to, 'CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $fid) eq 'OK'
        or die 'SETSLOT IMPORTING';
    rcli($from, 'CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $tid) eq 'OK'
        or die 'SETSLOT MIGRATING';
    my $moved = 0;
    for (1 .. 10000) {
        my @keys = split /\n/, rcli($from, 'CLUSTER', 'GETKEYSINSLOT',
                                     $slot, $o{batch} // 1);
        last unless @keys;
        my $r = rcli($from, 'MIGRATE', '127.0.0.1', $to->{port}, '', 0, 5000,
                     'KEYS', @keys);
        # NOKEY: deleted meanwhile (a client's key under load): nothing to move
        die "MIGRATE: $r" unless $r eq 'OK' || $r eq 'NOKEY';
        $moved += @keys;
        sleep $o{pause} if $o{pause};
    }
    for my $n (@{ $c->{nodes} }) {
        rcli($n, 'CLUSTER', 'SETSLOT', $slot, 'NODE', $tid);
    }
    return $moved;
}

# The node that serves `slot` now (CLUSTER SLOTS as the first node says).
sub cluster_slot_owner {
    my ($c, $slot) = @_;
    my $out = rcli($c->{nodes}[0], 'CLUSTER', 'NODES');
    for my $line (split /\n/, $out) {
        my @f = split ' ', $line;
        next unless $f[2] =~ /master/;
        my ($port) = $f[1] =~ /:(\d+)/;
        for my $r (@f[8 .. $#f]) {
            next if $r =~ /^\[/;
            my ($a, $b) = split /-/, $r;
            $b //= $a;
            if ($slot >= $a && $slot <= $b) {
                my ($n) = grep { $_->{port} == $port } @{ $c->{nodes} };
                return $n;
            }
        }
    }
    return;
}

sub openssl {
    my ($dir, @args) = @_;
    my $pid = fork // die;
    if ($pid == 0) {
        delete $ENV{LD_PRELOAD};
        open STDOUT, '>>', "$dir/openssl.log";
        open STDERR, '>&', \*STDOUT;
        exec 'openssl', @args;
        exit 127;
    }
    waitpid($pid, 0);
    die "openssl @args[0,1] failed (see $dir/openssl.log)" if $?;
}

# A CA, and a certificate it signs: $name.crt / $name.key in $dir.
sub make_ca {
    my ($dir, $name) = @_;
    openssl($dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
            '-days', 2, '-subj', "/CN=caresync test $name",
            '-keyout', "$dir/$name.key", '-out', "$dir/$name.crt");
    chmod 0600, "$dir/$name.key";
}

sub make_cert {
    my ($dir, $ca, $name, $cn, $san, $usage) = @_;
    open my $fh, '>', "$dir/$name.ext" or die;
    print $fh "subjectAltName=$san\n" if $san;
    print $fh "extendedKeyUsage=$usage\n";
    close $fh;
    openssl($dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', "/CN=$cn",
            '-keyout', "$dir/$name.key", '-out', "$dir/$name.csr");
    openssl($dir, 'x509', '-req', '-in', "$dir/$name.csr", '-days', 2,
            '-CA', "$dir/$ca.crt", '-CAkey', "$dir/$ca.key",
            '-CAcreateserial', '-extfile', "$dir/$name.ext",
            '-out', "$dir/$name.crt");
    chmod 0600, "$dir/$name.key";
}

# A redis-server speaking TLS on `port` (and plaintext on `plain_port`
# for the test's own seeding, unless plain => 0), with a CA made here: its
# certificate names `names` (default DNS:localhost, IP:127.0.0.1).
# auth_clients: yes (a client certificate is required), no, optional.
# Also a second CA that signed nothing of this server (`other_ca`), for
# the refusals.
sub start_tls_redis {
    my (%o) = @_;
    my $dir = dir_of(%o);
    my $cdir = "$dir/tls" . (++$NODE);
    mkdir $cdir;
    make_ca($cdir, 'ca');
    make_ca($cdir, 'other-ca');
    make_cert($cdir, 'ca', 'server', 'localhost',
              $o{names} // 'DNS:localhost,IP:127.0.0.1', 'serverAuth');
    make_cert($cdir, 'ca', 'client', 'caresync-worker', undef, 'clientAuth');
    my $tls = { ca => "$cdir/ca.crt", other_ca => "$cdir/other-ca.crt",
                cert => "$cdir/server.crt", key => "$cdir/server.key",
                client_cert => "$cdir/client.crt",
                client_key => "$cdir/client.key", dir => $cdir };
    my $plain = ($o{plain} // 1) ? free_port_pair() : undef;
    my $node = start_redis_node(dir => $dir, tls => $tls, args => [
        '--tls-cert-file', $tls->{cert}, '--tls-key-file', $tls->{key},
        '--tls-ca-cert-file', $tls->{ca},
        '--tls-auth-clients', $o{auth_clients} // 'yes',
        $plain ? ('--port', $plain) : (), @{ $o{args} // [] }]);
    $node->{plain_port} = $plain;
    @$node{qw(ca other_ca client_cert client_key)}
        = @$tls{qw(ca other_ca client_cert client_key)};
    return $node;
}

END {
    local $?;
    kill 'TERM', $_ for @PIDS;
    for my $pid (@PIDS) {
        my $t = time + 3;
        while (time < $t && waitpid($pid, WNOHANG) == 0) { sleep 0.02 }
        if (waitpid($pid, WNOHANG) == 0) { kill 'KILL', $pid;
                                           waitpid($pid, 0) }
    }
}

1;
