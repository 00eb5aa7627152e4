# The PHI check of the worker's log (Caresync::Worker::no_phi_in_log)
# cannot pass on a log that proves nothing: a missing file, an empty one,
# or one without the lines of the jobs in question each fail it, and a
# match is reported without the value.  Each case runs the helper in a
# child and reads the TAP (and the diagnostics) it prints.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use Caresync::Worker;

my $dir = tempdir('cw-phi-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $root = Caresync::Worker::root();

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$dir/$name" or die;
    print $fh $text;
    close $fh;
    return "$dir/$name";
}

# The helper's TAP for one log file and one job, and whether it passed.
sub check {
    my ($file, $job) = @_;
    my $code = 'use Test::More; use Caresync::Worker; '
             . 'Test::More->builder->failure_output(\\*STDOUT); '
             . "no_phi_in_log(name => 'x', files => ['$file'], "
             . "jobs => ['$job'], pattern => qr/Maria|Lopez/); "
             . 'done_testing();';
    open my $ph, '-|', $^X, "-I$root/t/lib", '-e', "$code" or die;
    my $out = do { local $/; <$ph> } // '';
    close $ph;
    return ($? == 0, $out);
}

my $good = write_file('good.log',
    "2026-11-21T10:00:00.000Z debug job start job_id=J1 type=t attempt=1\n"
    . "2026-11-21T10:00:00.010Z debug job done job_id=J1 type=t "
    . "status=updated attempts=1 ms=10\n");
my ($ok, $out) = check($good, 'J1');
ok($ok, 'a log with the job\'s lines and no PHI passes') or diag $out;

($ok, $out) = check("$dir/missing.log", 'J1');
ok(!$ok, 'a missing log fails');
like($out, qr/^not ok \d+ - x: missing\.log exists and is not empty/m,
     '... saying so');
like($out, qr/^not ok \d+ - x: no PHI \(not searched/m,
     '... and not searched');

($ok, $out) = check(write_file('empty.log', ''), 'J1');
ok(!$ok, 'an empty log fails');
like($out, qr/^not ok \d+ - x: empty\.log exists and is not empty/m,
     '... saying so');

($ok, $out) = check($good, 'J2');
ok(!$ok, 'a log without the job\'s lines fails');
like($out, qr/^not ok \d+ - x: good\.log holds the lines of job J2/m,
     '... saying so');

($ok, $out) = check(write_file('phi.log', "debug job done job_id=J1\n"
                               . "error x name=Maria Lopez\n"), 'J1');
ok(!$ok, 'a log with PHI fails');
like($out, qr/phi\.log line 2/, '... naming the line');
unlike($out, qr/Maria|Lopez/, '... not the value');

done_testing();
