# Issue 8, drill: "Each external API answering 5xx, timing out, 429 with
# Retry-After, truncated or non-JSON bodies: the right final status,
# retries bounded."  Salesforce is drilled by 020-retries.t; this is the
# same drill for the two other APIs, through the jobs that call them:
#
#   Hint           crm.contact_changed for a linked contact (GET the
#                  patient, then PATCH what differs): normally `updated`
#   HealthSherpa   healthsherpa.sync, v1 (POST /v1/contacts/search, then
#                  the contact written): normally `matched`
#
# Every fault is injected into the fakes (t/fakes/fake_apis.py
# /__fake/inject) for one patient path (Hint) or one search body
# (HealthSherpa), so the cases run side by side in one worker without
# touching each other.
#
# What cw_http.c's classification (cw_http_classify) makes of each, and
# what is asserted here:
#   429, 408, 5xx              transient: retried with backoff; a
#                              Retry-After longer than the backoff wins
#                              (cw_job_backoff)
#   curl timeout               transient "did not answer in time"
#   a body cut short           curl reports a partial transfer: transient
#     (Content-Length unmet)   "connection" -- a retry is normally whole
#   JSON cut short, framing    transient "bad_json", as below
#     intact
#   a 2xx body that is not     transient "bad_json" ("a cut or garbled
#     JSON                     answer: the next try usually is whole")
#   other 4xx                  permanent: failed at once, not retried
#                              (Hint 422 -> hint_rejected; HealthSherpa
#                              422 invalid_search_parameters)
# Once http.timeout_ms / max_attempts are spent, a transient error ends as
# `failed` with "gave up after N attempts: <API> answered HTTP <status>",
# and the job goes to {caresync}:dead, like the permanent ones.
#
# Bounded: max_attempts 3, backoff 100..300 ms, timeout 1 s, Retry-After
# 2 s, all cases at once in one worker: ~3 s.  No PHI in the output: test names and
# diagnostics carry ids and statuses only, and the worker's log is checked
# for the (synthetic) patient data the fakes served.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);
use Caresync::Worker;
use Caresync::Hint;

my $env = start_env();
my $conf = write_config('http.timeout_ms' => 1000,
                        'worker.concurrency' => 16,
                        'worker.max_attempts' => 3,
                        'worker.backoff_base_ms' => 100,
                        'worker.backoff_max_ms' => 300);

my @CASES = qw(twice always slow ra trunc cutjson nonjson invalid);
my $FINAL = [qw(updated matched skipped linked no_match failed)];

# only what a failure needs to be understood: never the patient's data
sub show {
    my ($st) = @_;
    return join ' ', map { "$_=" . ($st->{$_} // '-') }
        qw(status attempts last_error);
}

# The records the fakes serve, per case: synthetic, and each carries a
# marker the worker's log must never show.
sub marker { "drill-$_[0]-" . lc($_[1]) . '@example.org' }

# ---------------------------------------------------------------- Hint
# A patient per case, and the contact linked to it; the contact's email
# differs, so crm.contact_changed has one field to write.
my (%hint_c, %hint_p);
for my $k (@CASES) {
    $hint_p{$k} = "pat-drill-$k";
    seed_patients({ id => $hint_p{$k}, first_name => 'Drill',
                    last_name => "Hint\u$k", email => marker('old', $k) });
}
my @ids = @{ fake_post('/__fake/salesforce/contacts', [ map {
    { FirstName => 'Drill', LastName => "Hint\u$_",
      Email => marker('new', $_),
      Synced_To_Hint__c => JSON::PP::true,
      Hint_Patient_Id__c => $hint_p{$_} } } @CASES ]) };
@hint_c{@CASES} = @ids;

my $hp = sub { "/api/provider/patients/$hint_p{$_[0]}\$" };
fake_post('/__fake/inject', [
    { app => 'hint', method => 'GET', path => $hp->('twice'), times => 2,
      status => 503, body => '<html>Service Unavailable</html>' },
    { app => 'hint', method => 'GET', path => $hp->('always'), times => -1,
      status => 500, json => { status => 500,
                               message => 'Internal Server Error' } },
    # latency only (no status): the fake answers normally, too late
    { app => 'hint', method => 'GET', path => $hp->('slow'), times => 1,
      latency_ms => 2500 },
    { app => 'hint', method => 'GET', path => $hp->('ra'), times => 1,
      status => 429, json => { status => 429, message => 'Too many' },
      headers => { 'Retry-After' => '2' } },
    # the patient itself, cut in the middle (Content-Length promises more)
    { app => 'hint', method => 'GET', path => $hp->('trunc'), times => 1,
      status => 200, truncate => 1,
      json => { id => $hint_p{trunc}, first_name => 'Drill',
                last_name => 'HintTrunc', email => marker('cut', 'trunc'),
                address_line1 => '1 Drill Way', phones => [] } },
    # cut JSON in a whole HTTP answer (a proxy's doing, say)
    { app => 'hint', method => 'GET', path => $hp->('cutjson'), times => 1,
      status => 200, content_type => 'application/json',
      body => qq({"id":"$hint_p{cutjson}","first_name":"Dri) },
    { app => 'hint', method => 'GET', path => $hp->('nonjson'), times => 1,
      status => 200, body => '<html>maintenance</html>' },
    # Hint's validation error on the write (may quote values: not kept)
    { app => 'hint', method => 'PATCH', path => $hp->('invalid'),
      times => -1, status => 422,
      json => { status => 422, message => 'Validation failed: email '
                . marker('new', 'invalid') . ' is invalid' } },
]);

# -------------------------------------------------------- HealthSherpa
# A contact per case and its HealthSherpa twin; the search is by name and
# birth date, so the case's last name tells its requests apart.
my %hs_name = map { $_ => "Hs\u$_" } @CASES;
fake_post('/__fake/healthsherpa/contacts', [ map {
    { id => "hs-drill-$_", first_name => 'Drill', last_name => $hs_name{$_},
      birth_date => '1950-01-02', email => marker('hs', $_) } } @CASES ]);
my %hs_c;
@ids = @{ fake_post('/__fake/salesforce/contacts', [ map {
    { FirstName => 'Drill', LastName => $hs_name{$_},
      Birthdate => '1950-01-02' } } @CASES ]) };
@hs_c{@CASES} = @ids;

my $hb = sub { qq("$hs_name{$_[0]}") };     # in the search's JSON body
fake_post('/__fake/inject', [
    { app => 'healthsherpa', match_body => $hb->('twice'), times => 2,
      status => 502, body => '<html>Bad Gateway</html>' },
    { app => 'healthsherpa', match_body => $hb->('always'), times => -1,
      status => 500, json => { error => { code => 'internal_error',
                                          message => 'boom' } } },
    { app => 'healthsherpa', match_body => $hb->('slow'), times => 1,
      latency_ms => 2500 },
    { app => 'healthsherpa', match_body => $hb->('ra'), times => 1,
      status => 429, headers => { 'Retry-After' => '2' },
      json => { error => { code => 'rate_limited', message => 'slow down' } } },
    { app => 'healthsherpa', match_body => $hb->('trunc'), times => 1,
      status => 200, truncate => 1,
      json => { data => { contact => { id => 'hs-drill-trunc',
          first_name => 'Drill', last_name => $hs_name{trunc},
          birth_date => '1950-01-02', email => marker('cut', 'hs') },
          redirect_url => undef } } },
    { app => 'healthsherpa', match_body => $hb->('cutjson'), times => 1,
      status => 200, content_type => 'application/json',
      body => '{"data":{"contact":{"id":"hs-drill-cutjson","first_na' },
    { app => 'healthsherpa', match_body => $hb->('nonjson'), times => 1,
      status => 200, body => '<html>maintenance</html>' },
    { app => 'healthsherpa', match_body => $hb->('invalid'), times => -1,
      status => 422, json => { error => {
          code => 'invalid_search_parameters',
          message => 'last_name ' . $hs_name{invalid} . ' is invalid' } } },
]);

my $N = 0;
sub hs_job {
    my ($cid) = @_;
    my $id = sprintf('01HSDRILL%05d%06d', $$ % 100000, ++$N);
    seed_job({ v => 1, id => $id, type => 'healthsherpa.sync',
               received_at => '2026-11-21T10:00:05.000Z',
               idempotency_key => 'c' x 64,
               source => { system => 'crm', event => 'healthsherpa-sync' },
               action => { contact_id => $cid,
                           agent => 'agent@example.org' } });
    return $id;
}

sub hs_requests {
    my ($k) = @_;
    my $b = $hb->($k);
    return [ grep { index($_->{body}, $b) >= 0 }
             @{ fake_get('/__fake/requests?app=healthsherpa') } ];
}

sub hint_gets {
    my ($k) = @_;
    return hint_requests(method => 'GET', path => qr/\Q$hint_p{$k}\E$/);
}

# ------------------------------------------------------------- the run
my (%hj, %sj);
$hj{$_} = seed_job(action_job('crm.contact_changed', $hint_c{$_})) for @CASES;
$sj{$_} = hs_job($hs_c{$_}) for @CASES;

my $t0 = time;
my ($pid, $log) = start_worker($conf);

my %api = (
    hint => { name => 'Hint', jobs => \%hj, ok => 'updated',
              requests => \&hint_gets },
    healthsherpa => { name => 'HealthSherpa', jobs => \%sj, ok => 'matched',
                      requests => \&hs_requests },
);

for my $api (qw(hint healthsherpa)) {
    my ($name, $jobs, $ok, $reqs) = @{ $api{$api} }{qw(name jobs ok requests)};
    # the target's name in the worker's messages ("Hint", "healthsherpa")
    my $who = $api eq 'hint' ? qr/\bHint\b/ : qr/\bhealthsherpa\b/i;
    my $st;

    # ---- 5xx twice, then OK: the normal status on the third attempt
    $st = wait_status($jobs->{twice}, $FINAL, 20);
    is($st->{status}, $ok, "$name: 5xx twice, then $ok") or diag show($st);
    is($st->{attempts}, 3, "$name: ... on the third attempt");
    like($st->{last_error} // '', qr/$who answered HTTP 50[23]/,
         "$name: ... the last error kept, naming the API and status");
    is(scalar @{ $reqs->('twice') }, 3, "$name: ... three calls");

    # ---- 5xx always: failed after max_attempts, dead-lettered
    $st = wait_status($jobs->{always}, $FINAL, 20);
    is($st->{status}, 'failed', "$name: 500 every time: failed")
        or diag show($st);
    is($st->{attempts}, 3, "$name: ... after max_attempts (3)");
    like($st->{last_error} // '',
         qr/^gave up after 3 attempts: $who answered HTTP 500$/,
         "$name: ... last_error names the API and the status");
    is(scalar @{ $reqs->('always') }, 3, "$name: ... exactly 3 calls, "
       . 'bounded');

    # ---- a timeout: retried, then OK
    $st = wait_status($jobs->{slow}, $FINAL, 20);
    is($st->{status}, $ok, "$name: answer slower than http.timeout_ms: "
       . "retried, then $ok") or diag show($st);
    is($st->{attempts}, 2, "$name: ... on the second attempt");
    like($st->{last_error} // '', qr/$who \(.*\) did not answer in time/,
         "$name: ... the timeout recorded");

    # ---- 429 + Retry-After: 2: the next attempt >= 2 s later
    $st = wait_status($jobs->{ra}, $FINAL, 20);
    is($st->{status}, $ok, "$name: 429: retried, then $ok")
        or diag show($st);
    is($st->{attempts}, 2, "$name: ... on the second attempt");
    like($st->{last_error} // '', qr/$who answered HTTP 429/,
         "$name: ... the 429 recorded");
    my @r = @{ $reqs->('ra') };
    is(scalar @r, 2, "$name: ... two calls");
    # the worker schedules the retry after reading the answer, which is
    # after the fake stamped the first request: 10 ms for ms rounding;
    # the backoff alone (<= 300 ms) would be far shorter
    my $gap = @r == 2 ? $r[1]{t} - $r[0]{t} : 0;
    ok($gap >= 1.99 && $gap < 5,
       sprintf("$name: ... Retry-After: 2 honoured (%.2f s)", $gap));

    # ---- a body cut short: a partial transfer, transient by design
    $st = wait_status($jobs->{trunc}, $FINAL, 20);
    is($st->{status}, $ok, "$name: truncated JSON body: retried, then $ok")
        or diag show($st);
    is($st->{attempts}, 2, "$name: ... on the second attempt");
    like($st->{last_error} // '', qr/$who \(.*\): .*partial/i,
         "$name: ... the partial transfer recorded");

    # ---- JSON cut short in a whole answer: bad_json, transient by design
    $st = wait_status($jobs->{cutjson}, $FINAL, 20);
    is($st->{status}, $ok, "$name: JSON cut short (Content-Length kept): "
       . "retried, then $ok") or diag show($st);
    is($st->{attempts}, 2, "$name: ... on the second attempt");
    like($st->{last_error} // '',
         qr/$who answered 200 with a body that is not JSON/,
         "$name: ... recorded");

    # ---- 200 with a body that is not JSON: bad_json, transient by design
    $st = wait_status($jobs->{nonjson}, $FINAL, 20);
    is($st->{status}, $ok, "$name: non-JSON 200: retried, then $ok")
        or diag show($st);
    is($st->{attempts}, 2, "$name: ... on the second attempt");
    like($st->{last_error} // '',
         qr/$who answered 200 with a body that is not JSON/,
         "$name: ... recorded");

    # ---- a validation error (422): failed at once, not retried
    $st = wait_status($jobs->{invalid}, $FINAL, 20);
    is($st->{status}, 'failed', "$name: 422 validation error: failed")
        or diag show($st);
    is($st->{attempts}, 1, "$name: ... not retried");
    like($st->{last_error} // '', qr/\b422\b|invalid_search_parameters/,
         "$name: ... says why");
    unlike(($st->{last_error} // '') . ($st->{message} // ''),
           qr/drill-new|\Q$hs_name{invalid}\E is invalid/,
           "$name: ... without quoting the API's message (may hold values)");
}

is(scalar @{ hint_requests(method => 'PATCH',
                           path => qr/\Q$hint_p{invalid}\E$/) }, 1,
   'Hint: one PATCH for the 422');
is(scalar @{ hs_requests('invalid') }, 1, 'HealthSherpa: one search for the '
   . '422');

# the writes the successes made reached the other side
my $pts = hint_patients();
is($pts->{$hint_p{$_}}{email}, marker('new', $_),
   "Hint: the $_ case's patient was written")
    for qw(twice slow ra trunc cutjson nonjson);
my $cs = sf_contacts();
is($cs->{$hs_c{$_}}{HealthSherpa_Contact_Id__c}, "hs-drill-$_",
   "HealthSherpa: the $_ case's contact was written")
    for qw(twice slow ra trunc cutjson nonjson);

# ---- the dead-letter queue: exactly the failed ones
my %dead;
for my $e (@{ redis()->cmd('XRANGE', '{caresync}:dead', '-', '+') // [] }) {
    my %f = @{ $e->[1] };
    $dead{$f{job_id}} = \%f;
}
for my $api (qw(hint healthsherpa)) {
    my ($name, $jobs) = @{ $api{$api} }{qw(name jobs)};
    is(($dead{ $jobs->{always} } // {})->{attempts}, 3,
       "$name: the exhausted job is in {caresync}:dead, attempts=3");
    like(($dead{ $jobs->{always} } // {})->{error} // '', qr/gave up after 3/,
         "$name: ... with its error");
    ok($dead{ $jobs->{invalid} }, "$name: the rejected job is in "
       . '{caresync}:dead');
}
is(scalar keys %dead, 4, 'nothing else dead-lettered');
is(redis()->cmd('ZCARD', '{caresync}:retry'), 0, 'no retry left waiting');

is(stop_worker($pid, 'TERM'), 0, 'worker stopped cleanly');
my $took = time - $t0;
ok($took < 60, sprintf('bounded in time (%.1f s)', $took));

# no patient data in the log: not the records served, not the cut bodies,
# not the API's messages that quote values
my @drilled = (values %hj, values %sj);
my $served = qr/drill-\w+-\w+\@example\.org|1950-01-02|1 Drill Way/;
no_phi_in_log(name => 'log: none of the patient data the fakes served',
              files => [$log], stream => $conf, jobs => \@drilled,
              pattern => $served);
no_phi_in_log(name => 'log: no API key', files => [$log], stream => $conf,
              jobs => \@drilled, pattern => qr/fake-hint-key|fake-hs-key/);

done_testing();
