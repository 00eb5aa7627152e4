# TLS to Redis: a real redis-server on a TLS port with a CA, server and
# client certificates made by openssl for the test.  Jobs flow over TLS
# with the certificate and its name verified; a wrong CA, a wrong name or
# a plaintext port is refused with a clear line and never falls back to
# plaintext; a client key open to others and a TLS file without tls = on
# are refused at configuration load.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX ();
use Caresync::Worker;
use Caresync::RedisTopology;

my $env = start_env();
my $t = start_tls_redis(dir => $env->{dir}, auth_clients => 'yes');
# the test seeds through the same server's plaintext port
redis_at($t->{plain_port});

fake_post('/__fake/salesforce/contacts', [
    map { { LastName => "T$_", HelpAround_Patient_Id__c => "ha-tls$_" } }
    1 .. 6 ]);

my %tls = ('redis.port' => $t->{port}, 'redis.tls' => 'on',
           'redis.tls_ca' => $t->{ca}, 'redis.tls_cert' => $t->{client_cert},
           'redis.tls_key' => $t->{client_key});

# `check` connects as `run` does: its redis line says why
sub redis_line {
    my ($conf) = @_;
    my ($rc, $out, $err) = worker_cmd($conf, 'check');
    my ($line) = "$out$err" =~ /^(redis: .*|caresync-worker: .*redis.*)$/m;
    return $line // "$out$err";
}

# 1. verified TLS, the address in the certificate (IP:127.0.0.1)
my $conf = write_config(%tls);
like(redis_line($conf), qr/^redis: ok 127\.0\.0\.1:$t->{port}/,
     'TLS with the CA and a client certificate: connected');
my ($pid, $log) = start_worker($conf, 'tls');
my @jobs = map { seed_job(user_action_job(source_id => "ha-tls$_")) } 1 .. 3;
is(scalar(grep { (wait_status($_, [qw(updated failed)])->{status} // '')
                 eq 'updated' } @jobs), 3,
   'jobs flow through a TLS-only port');
is(stop_worker($pid, 'TERM'), 0, 'clean exit');

# ... and by name (DNS:localhost)
like(redis_line(write_config(%tls, 'redis.host' => 'localhost')),
     qr/^redis: ok localhost:$t->{port}/, 'by host name: verified, connected');

# 2. a CA that did not sign the server's certificate
my $bad = write_config(%tls, 'redis.tls_ca' => $t->{other_ca});
like(redis_line($bad), qr/^redis:\ FAIL\ cannot\ connect\ to\ Redis\ at
     \ 127\.0\.0\.1:$t->{port}\ \(TLS\):\ TLS\ certificate\ refused
     \ \(server\ name\ "127\.0\.0\.1"\):\ self-signed\ certificate/x,
     'a wrong CA: refused, saying why');

# `run` with it: no wait for a fix that will not come, no plaintext try
my $seen = seed_job(user_action_job(source_id => 'ha-tls4'));
($pid, $log) = start_worker($bad, 'tls-bad-ca');
my $gone = Caresync::Worker::wait_for(sub {
    waitpid($pid, POSIX::WNOHANG()) == $pid }, 10);
is($gone ? $? >> 8 : -1, 1, 'run with a wrong CA exits 1');
my $text = do { local $/; open my $fh, '<', $log; <$fh> };
like($text, qr/exception\ worker\ cannot\ connect\ to\ Redis\ at
               \ 127\.0\.0\.1:\d+\ \(TLS\):\ TLS\ certificate\ refused/x,
     '... with a clear line');
is(job_status($seen)->{status}, undef, '... and took no job');

# 3. a name the certificate does not carry
like(redis_line(write_config(%tls, 'redis.tls_server_name'
                                    => 'redis.wrong.example')),
     qr/^redis:\ FAIL\ .*TLS\ certificate\ refused\ \(server\ name
        \ "redis\.wrong\.example"\):\ hostname\ mismatch/x,
     'a wrong host name: refused');
like(redis_line(write_config(%tls, 'redis.host' => '127.0.0.2')),
     qr/FAIL .*(?:IP address mismatch|Connection refused)/,
     'an address the certificate does not carry: refused');

# 4. TLS against a plaintext port: a handshake failure, never plaintext
like(redis_line(write_config(%tls, 'redis.port' => $t->{plain_port},
                             'redis.timeout_ms' => 500)),
     qr/^redis:\ FAIL\ cannot\ connect\ to\ Redis\ at\ 127\.0\.0\.1:\d+
        \ \(TLS\):\ TLS\ handshake\ timed\ out\ \(is\ it\ a\ TLS\ port\?\)/x,
     'TLS to a plaintext port: refused, no fallback');

# 5. no client certificate where the server requires one
my %nocert = %tls;
delete @nocert{qw(redis.tls_cert redis.tls_key)};
like(redis_line(write_config(%nocert)),
     qr/^redis:\ FAIL\ Redis\ at\ 127\.0\.0\.1:\d+\ refused\ the\ TLS
        \ session:\ (?:TLS\ error:\ .*certificate\ required
                      |Connection\ reset\ by\ peer|connection\ closed)/x,
     'no client certificate where one is required: refused, saying why');

# 6. configuration: fail closed
chmod 0640, $t->{client_key};
my ($rc, $out, $err) = worker_cmd(write_config(%tls), 'check');
isnt($rc, 0, 'a client key its group may read: refused');
like("$out$err", qr/redis\.tls_key:\ \S+\ is\ open\ to\ its\ group\ or
                    \ others\ \(mode\ 640\):\ chmod\ 600\ it/x,
     '... saying so');
chmod 0600, $t->{client_key};

($rc, $out, $err) = worker_cmd(write_config(%tls, 'redis.tls' => 'off'),
                               'check');
isnt($rc, 0, 'TLS files with tls = off: refused');
like("$out$err", qr/redis\.tls_\* is set but redis\.tls is off/,
     '... saying so');

($rc, $out, $err) = worker_cmd(write_config(%tls, 'redis.tls_key' => undef),
                               'check');
like("$out$err", qr/redis\.tls_cert and redis\.tls_key go together/,
     'a certificate without its key: refused');

done_testing();
