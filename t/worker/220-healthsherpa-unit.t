# Issue 6's C unit tests (t/worker/cw_hs_unit.c): the CSV reader and the
# token sealing.  The binary sits next to the worker under test.
use strict;
use warnings;
use lib 't/lib';
use File::Basename qw(dirname);
use Caresync::Worker;
use Test::More ();

my $bin = $ENV{CARESYNC_HS_UNIT}
          // dirname(Caresync::Worker::worker_bin()) . '/cw-hs-unit';
Test::More::plan(skip_all => "$bin is not built" ) unless -x $bin;
# its own TAP output is the test
exec $bin or die "exec $bin: $!";
