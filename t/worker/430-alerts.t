# The alert rules and the dashboard of docs/monitoring/: promtool accepts
# the rules, and every metric they and the dashboard name exists in a real
# scrape of the edge (the module's caresync_metrics location) or of the
# worker ([metrics] listen).  The check is shown to fail on a misspelled
# name and promtool on a broken rule.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use Caresync::Worker;

my $root = Caresync::Worker::root();
my $rules = "$root/docs/monitoring/caresync-alerts.yml";
my $dash = "$root/docs/monitoring/caresync-dashboard.json";
my $promtool = (grep { -x "$_/promtool" } split /:/, $ENV{PATH})[0];

# `make test` installs it (.ci/install-deps test): its absence is a failure
ok($promtool, 'promtool is installed (Debian\'s prometheus package)')
    or BAIL_OUT('promtool missing: bash .ci/install-deps test');
$promtool .= '/promtool';

my $out = `$promtool check rules $rules 2>&1`;
is($?, 0, 'promtool check rules accepts docs/monitoring/caresync-alerts.yml')
    or diag $out;
like($out, qr/SUCCESS: \d+ rules found/, '... and found the rules');

my $tmp = tempdir('cw-alerts-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub slurp { my ($p) = @_; local $/; open my $fh, '<', $p or die "$p: $!"; <$fh> }
sub spew { my ($p, $t) = @_; open my $fh, '>', $p or die; print $fh $t; close $fh; $p }

my $rtext = slurp($rules);
my $broken = spew("$tmp/broken.yml",
                  $rtext =~ s/increase\(caresync_worker_dead_letters_total\[15m\]\)/increase(caresync_worker_dead_letters_total[15m]/r);
`$promtool check rules $broken 2>&1`;
isnt($?, 0, 'promtool refuses a rule with a broken expression');

# the metric names a text of PromQL uses
sub names_in {
    my ($text) = @_;
    my %n = map { $_ => 1 } $text =~ /\b(caresync_[a-z0-9_]+)\b/g;
    return \%n;
}

sub rule_names { names_in(join "\n", $_[0] =~ /^\s*expr:\s*(>\s*\n(?:\s{10,}.*\n)+|.*)$/mg) }

sub dash_names {
    my ($d) = @_;
    my @e;
    my $walk;
    $walk = sub {
        my ($x) = @_;
        if (ref $x eq 'HASH') {
            push @e, $x->{expr} if defined $x->{expr} && !ref $x->{expr};
            $walk->($_) for values %$x;
        } elsif (ref $x eq 'ARRAY') {
            $walk->($_) for @$x;
        }
    };
    $walk->($d);
    return names_in(join "\n", @e);
}

# names that are in no scrape
sub missing {
    my ($names, @scrapes) = @_;
    my %have;
    for my $s (@scrapes) {
        $have{$1} = 1 while $s =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/mg;
    }
    return join ' ', sort grep { !$have{$_} } keys %$names;
}

my $rnames = rule_names($rtext);
my $dnames = dash_names(JSON::PP->new->decode(slurp($dash)));
ok(keys(%$rnames) >= 10, 'the rules name ' . keys(%$rnames) . ' metrics');
ok(keys(%$dnames) >= 20, 'the dashboard names ' . keys(%$dnames) . ' metrics');

# ---- real scrapes ----
my $env = start_env();
my $port = start_nginx(
    'location = /metrics { caresync_metrics; } '
    . 'location = /webhook/user-enrollment '
    . '{ caresync_webhook helparound_enrollment; caresync_auth off; }');
ok($port, 'nginx with the module started') or BAIL_OUT('no nginx');
my $fixture = fixture_text('helparound/enrollment.json');
my $http = HTTP::Tiny->new(timeout => 10);
is($http->post("http://127.0.0.1:$port/webhook/user-enrollment",
               { content => $fixture,
                 headers => { 'Content-Type' => 'application/json' } })->{status},
   200, 'a webhook, so that the edge has figures');
# the edge prints a request or reject line once it has counted one
is($http->post("http://127.0.0.1:$port/webhook/user-enrollment",
               { content => '{"event":{}}',
                 headers => { 'Content-Type' => 'application/json' } })->{status},
   400, 'a rejected webhook, so that it has a reject line too');
my $edge = $http->get("http://127.0.0.1:$port/metrics");
is($edge->{status}, 200, 'the edge\'s scrape');

my $mport = Caresync::Worker::free_port();
my $conf = write_config('metrics.listen' => "127.0.0.1:$mport");
fake_post('/__fake/salesforce/contacts',
          [{ LastName => 'Alert', HelpAround_Patient_Id__c => 'ha-al' }]);
my $id = seed_job(user_action_job(source_id => 'ha-al'));
my $pid = start_worker($conf);
is(wait_status($id, [qw(updated failed)])->{status}, 'updated',
   'a job, so that the worker has figures');
my $worker = $http->get("http://127.0.0.1:$mport/metrics");
is($worker->{status}, 200, 'the worker\'s scrape');
like($edge->{content}, qr/^caresync_requests_total\{/m, '... edge samples');
like($worker->{content}, qr/^caresync_worker_vendor_requests_total\{/m,
     '... worker samples');

is(missing($rnames, $edge->{content}, $worker->{content}), '',
   'every metric the alert rules name is in a real scrape');
is(missing($dnames, $edge->{content}, $worker->{content}), '',
   'every metric the dashboard names is in a real scrape');

# the check can fail: a misspelled name in the rules, in the dashboard
my $typo = rule_names($rtext =~ s/caresync_worker_stream_lag\b/caresync_worker_stream_lagg/r);
is(missing($typo, $edge->{content}, $worker->{content}),
   'caresync_worker_stream_lagg', 'a misspelled name in a rule is caught');
my $dtypo = dash_names(JSON::PP->new->decode(
    slurp($dash) =~ s/caresync_enqueue_seconds_bucket/caresync_enqueue_second_bucket/r));
is(missing($dtypo, $edge->{content}, $worker->{content}),
   'caresync_enqueue_second_bucket', '... and one in the dashboard');
is(missing({ caresync_worker_jobs_total => 1 }, $edge->{content}),
   'caresync_worker_jobs_total', '... and a worker metric the edge lacks');

is(stop_worker($pid), 0, 'the worker stops cleanly');
done_testing();
