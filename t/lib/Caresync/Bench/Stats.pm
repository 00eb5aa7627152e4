package Caresync::Bench::Stats;

# Medians and spreads of per-round figures, and the verdict against a bar.

use strict;
use warnings;
use utf8;

use Exporter 'import';
use List::Util qw(min max);

our @EXPORT_OK = qw(quantile median spread verdict);

# Linear interpolation between the closest ranks.
sub quantile {
    my ($q, @x) = @_;
    @x = sort { $a <=> $b } @x;
    return undef unless @x;
    my $pos = $q * $#x;
    my $lo = int $pos;
    return $x[$lo] if $lo == $#x;
    return $x[$lo] + ($pos - $lo) * ($x[$lo + 1] - $x[$lo]);
}

sub median { quantile(0.5, @_) }

# "median (IQR q1–q3, min–max lo–hi)" with $fmt for each number.
sub spread {
    my ($fmt, @x) = @_;
    return sprintf "$fmt (IQR $fmt–$fmt, min–max $fmt–$fmt)",
        median(@x), quantile(0.25, @x), quantile(0.75, @x), min(@x), max(@x);
}

# PASS or MISS: $op is '<=' or '>='.
sub verdict {
    my ($value, $op, $bar) = @_;
    my $ok = $op eq '<=' ? $value <= $bar : $value >= $bar;
    return $ok ? 'PASS' : 'MISS';
}

1;
