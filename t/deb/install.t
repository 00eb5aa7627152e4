# The Debian packages on this machine (`make test-deb`, root, not part of
# `make test`): build/deb/*.deb installed with dpkg (apt-get -f install
# for what they depend on), their files and permissions checked, then a
# HelpAround user action posted to the stock nginx with the installed
# modules-enabled load file ends `updated` through the installed worker,
# run as the user caresync with the installed unit's command line,
# configuration and environment file; then both packages are purged and
# nothing of theirs may remain but the system user caresync (kept, as
# Debian recommends).
#
# It purges caresync packages already installed and writes
# /etc/caresync/worker.env: run it on a build or test machine only.
#
# There is no systemd here: the unit is checked with systemd-analyze
# verify when available, and the worker is started by hand the way the
# unit starts it.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Cwd qw(abs_path);
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(:sys_wait_h);

BEGIN { $ENV{CARESYNC_WORKER} = '/usr/bin/caresync-worker' }

plan skip_all => 'needs root (dpkg -i)' if $> != 0;
my @debs = map { glob("build/deb/${_}_*.deb") }
           qw(libnginx-mod-http-caresync caresync-worker);
plan skip_all => 'no packages in build/deb (make deb)' unless @debs == 2;

my @PKGS = qw(caresync-worker libnginx-mod-http-caresync);
my $CONF = '/etc/caresync/worker.conf';
my $ENVF = '/etc/caresync/worker.env';
my $UNIT = '/lib/systemd/system/caresync-worker.service';
my $LOAD = '/etc/nginx/modules-enabled/50-mod-http-caresync.conf';
my $AVAIL = '/usr/share/nginx/modules-available/mod-http-caresync.conf';
my $SO = '/usr/lib/nginx/modules/ngx_http_caresync_module.so';

sub sh {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub installed {
    my ($p) = @_;
    my (undef, $s) = sh("dpkg-query -W -f='\${Status}' $p");
    return $s =~ /install ok installed/;
}

sub known {
    my ($p) = @_;
    my ($rc) = sh("dpkg-query -W $p");
    my (undef, $s) = sh("dpkg-query -W -f='\${Status}' $p");
    return $rc == 0 && $s !~ /not-installed/;
}

# Debian's nginx reload trigger and the unit must not start services
local $ENV{DEBIAN_FRONTEND} = 'noninteractive';

# ---- a clean start ----

sh("dpkg --purge @PKGS") if grep { known($_) } @PKGS;
ok(!grep({ known($_) } @PKGS), 'neither package on the machine to start with');

# ---- install ----

my $t0 = time;
my ($rc, $out) = sh("dpkg -i @debs");
if ($rc != 0) {
    diag "dpkg -i: $out";
    ($rc, $out) = sh('apt-get -f install -y -qq --no-install-recommends');
    diag $out if $rc != 0;
}
ok(installed($_), "$_ installed") for @PKGS;

# the module, loaded the Debian way
ok(-f $SO, "$SO");
open my $lf, '<', $AVAIL;
is(scalar(<$lf> // ''), "load_module modules/ngx_http_caresync_module.so;\n",
   "$AVAIL loads it");
is(readlink($LOAD), $AVAIL, "$LOAD -> modules-available");
(undef, $out) = sh('dpkg-query -W -f=\'${Depends}\' libnginx-mod-http-caresync');
my ($abi) = `cat /usr/share/nginx/src/debian/libnginx-mod.abisubstvars 2>/dev/null`
            =~ /^nginx:abi=(\S+)/m;
like($out, qr/\Q$abi\E/, "depends on the nginx ABI it was built for ($abi)")
    if $abi;
like($out, qr/libhiredis0\.14.*libjansson4.*libssl3/, '... and the libraries');
($rc, $out) = sh('nginx -t');
is($rc, 0, 'nginx -t: the stock configuration loads it') or diag $out;

# the worker
my @pw = getpwnam('caresync');
ok(@pw, 'system user caresync');
ok(@pw && $pw[2] < 1000, '... with a system uid');
my $gid = getgrnam('caresync');
ok(defined $gid, 'group caresync');

sub mode_owner {
    my ($p) = @_;
    my @s = stat $p or return 'missing';
    return sprintf('%04o %s:%s', $s[2] & 07777, scalar getpwuid($s[4]),
                   scalar getgrgid($s[5]));
}
is(mode_owner('/etc/caresync'), '0750 root:caresync', '/etc/caresync');
is(mode_owner($CONF), '0640 root:caresync', $CONF);
is(mode_owner($ENVF), '0600 root:root', $ENVF);
(undef, $out) = sh('dpkg-query --showformat=\'${Conffiles}\' -W caresync-worker');
like($out, qr{\Q$CONF\E}, 'worker.conf is a conffile');
like($out, qr{\Q$ENVF\E}, 'worker.env is a conffile');
open my $cf, '<', $CONF or die;
my $conf_text = do { local $/; <$cf> };
unlike(join("\n", grep { !/^\s*[#;]/ } split /\n/, $conf_text),
       qr/(password|secret|api_key|token)\w*\s*=/i,
       'no secret in the default configuration');
ok(-x '/usr/bin/caresync-worker', '/usr/bin/caresync-worker');
($rc, $out) = sh('man -w caresync-worker');
like($out, qr{/usr/share/man/man8/caresync-worker\.8}, 'man page installed');
($rc, $out) = sh('/usr/bin/caresync-worker --help');
like($out, qr/^usage: caresync-worker/, '--help');
($rc, $out) = sh('/usr/bin/caresync-worker --version');
open my $vf, '<', 'VERSION' or die "VERSION: $!";
chomp(my $version = <$vf>);
is($out, "caresync-worker $version\n", '--version is VERSION');

# the unit
open my $uf, '<', $UNIT or die "$UNIT: $!";
my %unit;
while (<$uf>) {
    next if /^\s*[#;]/ || !/^(\w+)=(.*)$/;
    $unit{$1} = exists $unit{$1} ? "$unit{$1}\n$2" : $2;
}
is($unit{User}, 'caresync', 'unit: User=caresync');
for my $k (qw(NoNewPrivileges ProtectHome PrivateTmp PrivateDevices
              ProtectKernelTunables ProtectKernelModules LockPersonality
              MemoryDenyWriteExecute)) {
    is($unit{$k}, 'yes', "unit: $k=yes");
}
is($unit{ProtectSystem}, 'strict', 'unit: ProtectSystem=strict');
is($unit{RestrictAddressFamilies}, 'AF_UNIX AF_INET AF_INET6',
   'unit: RestrictAddressFamilies');
like($unit{SystemCallFilter}, qr/^\@system-service/m, 'unit: SystemCallFilter');
is($unit{CapabilityBoundingSet}, '', 'unit: no capabilities');
is($unit{Restart}, 'on-failure', 'unit: Restart=on-failure');
is($unit{KillSignal}, 'SIGTERM', 'unit: KillSignal=SIGTERM');
my ($deadline) = $conf_text =~ /^\s*shutdown_deadline_ms\s*=\s*(\d+)/m;
my ($stop) = ($unit{TimeoutStopSec} // '') =~ /^(\d+)s?$/;
ok($deadline && $stop && $stop * 1000 > $deadline
   && $stop * 1000 <= $deadline + 10000,
   "unit: TimeoutStopSec=${\($stop // '?')}s just above the drain deadline "
   . "(${\($deadline // '?')} ms)");
SKIP: {
    skip 'no systemd-analyze', 1 unless -x '/usr/bin/systemd-analyze';
    ($rc, $out) = sh("systemd-analyze verify $UNIT");
    $out = join "\n", grep { /caresync/ } split /\n/, $out;
    is($out, '', 'systemd-analyze verify: nothing about the unit');
}
SKIP: {
    ($rc, $out) = sh("systemd-analyze security --offline=yes $UNIT");
    skip 'no systemd-analyze security --offline', 1 if $rc > 1 && $out !~ /exposure/;
    my ($exp) = $out =~ /Overall exposure level.*?:\s*([\d.]+)/;
    ok(defined $exp && $exp <= 2.0, "systemd-analyze security: exposure "
                                    . ($exp // '?') . ' (<= 2.0)')
        or diag $out;
}

# ---- a request through the installed packages ----

require Caresync::Worker;
Caresync::Worker->import;
my $env = start_env();
my $dir = $env->{dir};
chmod 0755, $dir;

my ($cid) = @{ fake_post('/__fake/salesforce/contacts', [
    { LastName => 'Deb', HelpAround_Patient_Id__c => 'ha61236024160af' } ]) };

# the job key: one file, 0600, the worker's user its owner (nginx's
# master, root, reads it too)
my $jobkey = "$dir/job-deb.key";
system("umask 077 && openssl rand -hex 32 > $jobkey") == 0 or die "openssl";
system('chown', "$unit{User}:", $jobkey) == 0 or die "chown $jobkey";

# the stock nginx, the module through the installed load file
my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1996;
mkdir "$dir/nginx";
open my $nf, '>', "$dir/nginx/nginx.conf" or die;
print $nf <<"CONF";
include $LOAD;
daemon off;
master_process off;
worker_processes 1;
error_log $dir/nginx/error.log info;
pid $dir/nginx/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $dir/nginx/tmp;
    caresync_redis 127.0.0.1:$env->{redis_port} timeout=1s;
    caresync_job_key deb file:$jobkey;
    server {
        listen 127.0.0.1:$port;
        location = /webhook/user-action {
            caresync_webhook helparound_user_action;
            caresync_auth_header X-HelpAround-Secret deb-test-secret;
        }
    }
}
CONF
close $nf;
my $npid = Caresync::Worker::spawn("$dir/nginx/stderr.log", '/usr/sbin/nginx',
    '-e', "$dir/nginx/error.log", '-c', "$dir/nginx/nginx.conf");
ok(wait_for(sub { IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                        PeerPort => $port) }, 10),
   "stock nginx with the installed module on :$port")
    or diag `cat $dir/nginx/error.log $dir/nginx/stderr.log`;

# the operator's part: the endpoints in worker.conf, the secret in
# worker.env (here all as CARESYNC_* overrides in worker.env)
open my $ef, '>', $ENVF or die;
print $ef "CARESYNC_REDIS_PORT=$env->{redis_port}\n",
          "CARESYNC_SALESFORCE_LOGIN_URL=$env->{fake}\n",
          # the stand-in answers an http instance_url on 127.0.0.1
          "CARESYNC_SALESFORCE_INSTANCE_DOMAINS=http://127.0.0.1\n",
          "CARESYNC_SALESFORCE_CLIENT_ID=fake-client-id\n",
          "CARESYNC_SALESFORCE_CLIENT_SECRET=fake-client-secret\n",
          "CARESYNC_WORKER_SHUTDOWN_DEADLINE_MS=5000\n",
          "CARESYNC_CRYPTO_KEYS=deb:$jobkey\n";
close $ef;

# the worker as the unit starts it: its ExecStart, as User=, with the
# EnvironmentFile= read by root
my %wenv;
open $ef, '<', $ENVF or die;
while (<$ef>) { $wenv{$1} = $2 if /^([A-Z_][A-Z0-9_]*)=(.*)$/ }
close $ef;
my @exec = split ' ', $unit{ExecStart};
my $wlog = "$dir/installed-worker.log";
my $wpid = do {
    local @ENV{keys %wenv} = values %wenv;
    Caresync::Worker::spawn($wlog, 'setpriv', "--reuid=$unit{User}",
                            "--regid=$unit{User}", '--init-groups', '--',
                            @exec);
};

my $path = ($ENV{CARESYNC_FIXTURES} // abs_path('..') . '/shared/fixtures')
           . '/helparound/user-action.json';
my $fixture = do { local $/; open my $fh, '<', $path or die "$path: $!"; <$fh> };
my $res = HTTP::Tiny->new(timeout => 10)->post(
    "http://127.0.0.1:$port/webhook/user-action",
    { content => $fixture,
      headers => { 'Content-Type' => 'application/json',
                   'X-HelpAround-Secret' => 'deb-test-secret' } });
is($res->{status}, 200, 'nginx accepted the user action') or diag $res->{content};
my $entries = wait_for(sub {
    my $l = redis()->cmd('KEYS', '{caresync}:job:*');
    @$l ? $l : undef }, 10) || [];
my ($job_id) = map { /:job:(.+)$/ } @$entries;
ok($job_id, 'a job status record') or diag `cat $wlog`;
my $st = $job_id ? wait_status($job_id, [qw(updated failed no_match skipped)])
                 : {};
is($st->{status}, 'updated', 'the installed worker: updated') or diag explain $st;
is($st->{crm_contact_id}, $cid, '... on the right contact');
is(sf_contacts()->{$cid}{Last_Tracker_View_At__c},
   '2021-08-23T08:45:24.000+0000', 'Last_Tracker_View_At__c set');
my ($uid) = `ps -o uid= -p $wpid` =~ /(\d+)/;
is($uid, $pw[2], 'the worker ran as caresync');

# an operator command as root with the installed configuration
{
    local @ENV{keys %wenv} = values %wenv;
    ($rc, $out) = sh("/usr/bin/caresync-worker jobs show $job_id");
}
like($out, qr/^status: updated$/m, 'jobs show (default --config)');

is(stop_worker($wpid, 'TERM'), 0, 'SIGTERM: the worker drains and exits 0');
kill 'QUIT', $npid;
waitpid($npid, 0);

# ---- purge ----

my @files = split /\n/, `dpkg -L @PKGS`;
($rc, $out) = sh("dpkg --purge @PKGS");
is($rc, 0, 'dpkg --purge both') or diag $out;
ok(!known($_), "$_ gone from dpkg's database") for @PKGS;
my @left = grep { m{^/(etc|usr/bin|usr/lib/nginx|usr/share/nginx|lib/systemd|usr/share/man|usr/share/doc/(caresync|libnginx-mod-http-caresync))}
                  && -e $_ && !-d $_ } @files;
is("@left", '', 'none of their files left');
ok(!-e '/etc/caresync', '/etc/caresync removed');
ok(!-e $LOAD && !-l $LOAD && !-l "$LOAD.removed",
   'modules-enabled symlink removed');
($rc, $out) = sh('dpkg-statoverride --list | grep caresync');
is($out, '', 'no statoverride');
($rc, $out) = sh('find /var/lib/systemd /etc/systemd -name "*caresync*" '
                 . '2>/dev/null');
is($out, '', 'no systemd state left');
($rc, $out) = sh('nginx -t');
is($rc, 0, 'nginx -t still fine without it') or diag $out;
ok(defined getpwnam('caresync'), 'the user caresync is kept (Debian policy)');
diag sprintf('install, request, purge: %d s', time - $t0);

done_testing();
