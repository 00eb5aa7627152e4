package Caresync::Bench::Callgrind;

# Instruction counts of a running process: it is started under
# `valgrind --tool=callgrind`, its counters are reset with
# `callgrind_control -z` before the requests to count and dumped with
# `callgrind_control -d` after them; the figure is the dump's `summary:`
# line (the program total of instructions, Ir, since the reset).  The
# dumps stay on disk, for callgrind_annotate.

use strict;
use warnings;

# The command prefix; dumps are written to <prefix>.<pid>.<n>.
sub command {
    my ($prefix) = @_;
    return ('valgrind', '--tool=callgrind', '--trace-children=no',
            "--callgrind-out-file=$prefix.%p");
}

sub _control {
    my ($what, $pid) = @_;
    my $out = `callgrind_control $what $pid 2>&1`;
    $? == 0 && $out =~ /OK/
        or die "callgrind_control $what $pid failed: $out\n";
}

sub zero { _control('-z', $_[0]) }

# The dumps written so far for $pid.
sub _dumps {
    my ($pid, $prefix) = @_;
    my ($dir, $base) = $prefix =~ m{^(.*)/([^/]+)$} or die "$prefix\n";
    opendir my $dh, $dir or die "$dir: $!\n";
    return map { "$dir/$_" } grep { /^\Q$base.$pid.\E\d+$/ } readdir $dh;
}

# Dumps and returns [instructions since the last reset, the dump's file].
sub dump_summary {
    my ($pid, $prefix) = @_;
    my %before = map { $_ => 1 } _dumps($pid, $prefix);
    _control('-d', $pid);
    my ($file) = grep { !$before{$_} } _dumps($pid, $prefix);
    defined $file or die "callgrind: no new dump for $pid under $prefix\n";
    open my $fh, '<', $file or die "$file: $!\n";
    while (<$fh>) {
        return [$1, $file] if /^summary:\s+(\d+)/;
    }
    die "$file: no summary line\n";
}

# The dump's instructions by the object they ran in (the program, each
# shared library): { name => instructions }.  Self costs only: the line
# after `calls=` is the cost of the call, counted where it ran.
sub by_object {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!\n";
    my (%name, %cost, $ob, $call);
    while (<$fh>) {
        if (/^(c?)ob=(?:\((\d+)\))?\s*(.*?)\s*$/) {
            # ob and cob share one table of compressed names
            my ($is_call, $id, $n) = ($1, $2, $3);
            $name{$id} = $n if defined $id && length $n;
            $ob = defined $id ? $name{$id} : $n unless $is_call;
        } elsif (/^calls=/) {
            $call = 1;
        } elsif (/^[0-9+*-]/) {
            my (undef, $ir) = split;
            $cost{$ob // '?'} += $ir // 0 unless $call;
            $call = 0;
        }
    }
    return \%cost;
}

1;
