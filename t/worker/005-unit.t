# The worker's pure functions in C (t/worker/cw_unit.c), TAP passed through.
use strict;
use warnings;
use lib 't/lib';
use Caresync::Worker;

my $bin = Caresync::Worker::built('CARESYNC_UNIT', 'cw-unit');
unless (-x $bin) {
    print "1..0 # SKIP $bin is not built (make test-worker)\n";
    exit 0;
}
exec $bin or die "exec $bin: $!";
