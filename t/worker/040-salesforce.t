# The Salesforce client on its own (through cw-sf-probe): OAuth grants,
# query paging and escaping, upsert 201/200/204/300, create, sObject
# Collections, the error array, throttling, refresh on 401.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use URI::Escape ();
use Caresync::Worker;

my $PROBE = Caresync::Worker::probe_bin();
plan skip_all => "no $PROBE (make test-worker builds it)" unless -x $PROBE;

my $env = start_env();
my $json = JSON::PP->new;

sub probe {
    my ($conf, @ops) = @_;
    my $pid = open(my $fh, '-|') // die;
    if (!$pid) {
        open STDERR, '>>', "$env->{dir}/probe.log";
        exec $PROBE, '--config', $conf, @ops;
        exit 127;
    }
    my @out = map { $json->decode($_) } grep { /^\{/ } <$fh>;
    close $fh;
    return wantarray ? @out : $out[0];
}

sub ntok { scalar @{ sf_requests(path => qr{oauth2/token}) } }

my $conf = write_config();

# ---- client_credentials, token shared, ping ----
my @r = probe($conf, 'ping', 'ping');
is($r[0]{class}, 'ok', 'client_credentials: ping');
is($r[1]{class}, 'ok', 'second call');
is(ntok(), 1, 'one token for both calls');

# ---- query paging and escaping ----
fake_post('/__fake/config', { sf_page_size => 2 });
fake_post('/__fake/salesforce/contacts', [
    map { { LastName => "P$_", HelpAround_Patient_Id__c => 'ha-page' } } 1 .. 5 ]);
my $r = probe($conf, 'find', 'HelpAround_Patient_Id__c', 'ha-page');
is($r->{class}, 'ok', 'query ok');
is(scalar @{ $r->{records} }, 5, 'all 5 records over 3 pages');
is(scalar @{ sf_requests(path => qr{/query/01g}) }, 2,
   'followed nextRecordsUrl twice');
fake_post('/__fake/config', { sf_page_size => 2000 });

$r = probe($conf, 'find', 'HelpAround_Patient_Id__c', "x' OR LastName != '");
is($r->{class}, 'ok', 'injection attempt: a valid query');
is(scalar @{ $r->{records} }, 0, '... matching nothing');
my ($last) = reverse @{ sf_requests(path => qr{/query$}) };
my $soql = URI::Escape::uri_unescape($last->{query} =~ s/^q=//r);
is($soql, q{SELECT Id,LastName,HelpAround_Patient_Id__c FROM Contact }
        . q{WHERE HelpAround_Patient_Id__c = 'x\' OR LastName != \''},
   'the quote is escaped');

$r = probe($conf, 'find', "Bad Field", 'x');
is($r->{class}, 'permanent', 'a bad field name never reaches SOQL');
like($r->{message}, qr/bad Salesforce field name/, '... says so');

# ---- get ----
my ($id) = @{ fake_post('/__fake/salesforce/contacts',
                        [{ LastName => 'G', HelpAround_Patient_Id__c => 'ha-g' }]) };
$r = probe($conf, 'get', $id);
is($r->{record}{Id}, $id, 'get by id');
$r = probe($conf, 'get', '003000000000000AAA');
is($r->{class}, 'ok', 'get of a missing id is not an error');
is($r->{status}, 404, '... 404');
ok(!$r->{record}, '... no record');

# ---- update and the error array ----
$r = probe($conf, 'update', $id, '{"Nope__c":"1"}');
is($r->{class}, 'permanent', 'unknown field: permanent');
is($r->{code}, 'INVALID_FIELD', '... errorCode from the array');
$r = probe($conf, 'update', $id, '{"Email":"g@example.org"}');
is($r->{class}, 'ok', 'update 204');

# ---- upsert ----
$r = probe($conf, 'upsert', 'HelpAround_Patient_Id__c', 'ha-new',
           '{"LastName":"New"}');
is($r->{status}, 201, 'upsert: 201');
ok($r->{created}, '... created');
like($r->{id}, qr/^003/, '... with an id');
my $nid = $r->{id};
$r = probe($conf, 'upsert', 'HelpAround_Patient_Id__c', 'ha-new',
           '{"Email":"n@example.org"}');
is($r->{status}, 200, 'upsert again: 200');
ok(!$r->{created}, '... updated');
is($r->{id}, $nid, '... same contact');
my $old = write_config('salesforce.api_version' => 'v45.0');
$r = probe($old, 'upsert', 'HelpAround_Patient_Id__c', 'ha-new',
           '{"Email":"m@example.org"}');
is($r->{status}, 204, 'before v46: 204');
is($r->{class}, 'ok', '... is success');
ok(!$r->{created}, '... updated');
$r = probe($conf, 'upsert', 'HelpAround_Patient_Id__c', 'ha-page',
           '{"LastName":"X"}');
is($r->{status}, 300, 'several matches: 300');
is($r->{class}, 'permanent', '... permanent');
like($r->{message}, qr/merge the duplicates/, '... says what to do');

# ---- ids put into a path: one safe segment, or nothing is sent ----
my $ndata = scalar @{ sf_requests(path => qr{^/services/data/}) };
for my $bad ('..', '.', '../../limits', '003/../limits', '%2e%2e', "003\nx") {
    my $shown = $bad =~ s/\n/\\n/r;
    for my $op ([ 'get', $bad ], [ 'update', $bad, '{"LastName":"X"}' ],
                [ 'upsert', 'HelpAround_Patient_Id__c', $bad,
                  '{"LastName":"X"}' ]) {
        $r = probe($conf, @$op);
        is($r->{class}, 'permanent', "$op->[0] with `$shown`: permanent");
        is($r->{code}, 'bad_id', '... bad_id');
        like($r->{message}, $op->[0] eq 'upsert'
             ? qr/^the upsert value of HelpAround_Patient_Id__c is not a usable id/
             : qr/^the Salesforce contact id is not a usable id/,
             '... naming the field');
        unlike($r->{message}, qr/\Q$bad\E/, '... not the value')
            if length $bad > 2;
    }
}
is(scalar @{ sf_requests(path => qr{^/services/data/}) }, $ndata,
   'none of them reached Salesforce');

# ---- the token goes to the Salesforce instance only ----
# "localhost" is the fake too, under a name the config does not allow:
# a request carrying a token there would be a leak
my ($fport) = $env->{fake} =~ /:(\d+)$/;
my $foreign = "http://localhost:$fport";
sub leaked {
    return [ grep { ($_->{host} // '') =~ /^localhost/
                    || ($_->{authorization} // '') =~ /foreign/ }
             @{ fake_get('/__fake/requests') } ];
}
sub nlimits { scalar @{ sf_requests(path => qr{/limits$}) } }

my $nl = nlimits();
fake_post('/__fake/inject', { app => 'salesforce', path => 'oauth2/token$',
    times => 1, status => 200,
    json => { access_token => '00Dforeign!token', instance_url => $foreign,
              token_type => 'Bearer' } });
$r = probe($conf, 'ping');
is($r->{class}, 'permanent', 'a foreign instance_url: permanent');
is($r->{code}, 'bad_instance_url', '... bad_instance_url');
like($r->{message}, qr/instance_url that is not https on a host of salesforce\.instance_domains.*the token is not used/,
     '... says so');
is(scalar @{ leaked() }, 0, '... and no request carried the token anywhere');
is(nlimits(), $nl, '... nothing was sent');

my $strict = write_config('salesforce.instance_domains' => undef);
$r = probe($strict, 'ping');
is($r->{code}, 'bad_instance_url',
   'by default an http instance_url (the fake\'s) is refused');
like($r->{message}, qr/\(salesforce\.com, force\.com\)/, '... naming the default');
is(nlimits(), $nl, '... nothing was sent');

fake_post('/__fake/salesforce/contacts', [
    map { { LastName => "Q$_", HelpAround_Patient_Id__c => 'ha-next' } } 1 .. 3 ]);
for my $next ("$foreign/services/data/v60.0/query/01gFAKE-1",
              "//localhost:$fport/services/data/v60.0/query/01gFAKE-1",
              '/services/data/v60.0/query/../../v60.0/limits') {
    fake_post('/__fake/inject', { app => 'salesforce', path => '/query\?q=',
        times => 1, status => 200,
        json => { totalSize => 3, done => JSON::PP::false,
                  records => [], nextRecordsUrl => $next } });
    $r = probe($conf, 'find', 'HelpAround_Patient_Id__c', 'ha-next');
    is($r->{class}, 'permanent', "nextRecordsUrl $next: permanent");
    is($r->{code}, 'bad_next_url', '... bad_next_url');
}
is(scalar @{ leaked() }, 0, 'no request carried the token to another host');
is(nlimits(), $nl, 'no page was fetched from another path');
$r = probe($conf, 'find', 'HelpAround_Patient_Id__c', 'ha-next');
is(scalar @{ $r->{records} }, 3, 'the real answer still reads');

# ---- create ----
$r = probe($conf, 'create', '{"LastName":"Created","Email":"c@example.org"}');
is($r->{status}, 201, 'create: 201');
ok(sf_contacts()->{$r->{id}}, '... exists');
$r = probe($conf, 'create', '{"Email":"c@example.org"}');
is($r->{code}, 'REQUIRED_FIELD_MISSING', 'create without LastName');
like($r->{message}, qr/REQUIRED_FIELD_MISSING on LastName/, '... names the field');
unlike($r->{message}, qr/c\@example/, '... without the value');

# ---- sObject Collections ----
$r = probe($conf, 'collection', 'HelpAround_Patient_Id__c', $json->encode([
    { LastName => 'C1', HelpAround_Patient_Id__c => 'ha-c1' },
    { Email => 'x@example.org', HelpAround_Patient_Id__c => 'ha-new' },
    { LastName => 'C3' } ]));
is($r->{class}, 'ok', 'collection upsert');
is(scalar @{ $r->{records} }, 3, '... one result per record');
ok($r->{records}[0]{created}, '... first created');
ok($r->{records}[1]{success} && !$r->{records}[1]{created}, '... second updated');
ok(!$r->{records}[2]{success}, '... third failed alone');
my ($coll) = @{ sf_requests(method => 'PATCH', path => qr{/composite/sobjects/Contact/HelpAround_Patient_Id__c$}) };
my $body = $json->decode($coll->{body});
ok(!$body->{allOrNone}, 'allOrNone false');
is($body->{records}[0]{attributes}{type}, 'Contact', 'attributes.type set');
$r = probe($conf, 'collection', 'HelpAround_Patient_Id__c',
           $json->encode([ map { { LastName => "L$_" } } 1 .. 201 ]));
is($r->{class}, 'permanent', 'over 200 records refused');

# ---- throttling and errors ----
fake_post('/__fake/inject', { app => 'salesforce', path => '/limits', times => 1,
    status => 403, json => [{ message => 'TotalRequests Limit exceeded.',
                              errorCode => 'REQUEST_LIMIT_EXCEEDED' }] });
$r = probe($conf, 'ping');
is($r->{class}, 'transient', 'REQUEST_LIMIT_EXCEEDED is transient');
like($r->{message}, qr{api-usage=\d+/15000}, '... with Sforce-Limit-Info');

# the allowance really spent: the fake counts
fake_post('/__fake/config', { sf_api_limit => 1 });
$r = probe($conf, 'ping');
is($r->{code}, 'REQUEST_LIMIT_EXCEEDED', 'daily allowance spent: 403');
is($r->{class}, 'transient', '... transient');
fake_post('/__fake/config', { sf_api_limit => 15000 });

fake_post('/__fake/inject', { app => 'salesforce', path => '/limits', times => 1,
    status => 429, body => 'slow', headers => { 'Retry-After' => '3' } });
$r = probe($conf, 'ping');
is($r->{class}, 'transient', '429 transient');
is($r->{retry_after_ms}, 3000, 'Retry-After: 3 -> 3000 ms');

fake_post('/__fake/inject', { app => 'salesforce', path => '/limits', times => 1,
    status => 503, body => 'x',
    headers => { 'Retry-After' => 'Wed, 21 Oct 2065 07:28:00 GMT' } });
$r = probe($conf, 'ping');
ok($r->{retry_after_ms} > 86400_000, 'Retry-After as an HTTP date');

# ---- 401 INVALID_SESSION_ID: refresh once ----
my $n0 = ntok();
fake_post('/__fake/inject', { app => 'salesforce', path => '/limits', times => 1,
    status => 401, json => [{ message => 'Session expired or invalid',
                              errorCode => 'INVALID_SESSION_ID' }] });
$r = probe($conf, 'ping');
is($r->{class}, 'ok', '401 once: refreshed and succeeded');
is(ntok() - $n0, 2, '... a second token request');

# ---- refresh_token grant ----
my $rt = write_config('salesforce.auth' => 'refresh_token',
                      'salesforce.client_secret_env' => undef,
                      'salesforce.refresh_token' => 'fake-refresh-token');
$r = probe($rt, 'ping');
is($r->{class}, 'ok', 'refresh_token grant');
my ($tr) = reverse @{ sf_requests(path => qr{oauth2/token}) };
like($tr->{body}, qr/grant_type=refresh_token/, '... sent as such');
like($tr->{body}, qr/refresh_token=fake-refresh-token/, '... with the token');
my $rtbad = write_config('salesforce.auth' => 'refresh_token',
                         'salesforce.client_secret_env' => undef,
                         'salesforce.refresh_token' => 'revoked');
$r = probe($rtbad, 'ping');
is($r->{class}, 'permanent', 'revoked refresh token: permanent');
like($r->{message}, qr/invalid_grant/, '... invalid_grant');

# secret from a file
open my $sf, '>', "$env->{dir}/secret" or die;
print $sf "fake-client-secret\n";
close $sf;
my $fileconf = write_config('salesforce.client_secret_env' => undef,
                            'salesforce.client_secret_file' => "$env->{dir}/secret");
is(probe($fileconf, 'ping')->{class}, 'ok', 'client_secret_file');

# ---- JWT bearer ----
SKIP: {
    my $key = "$env->{dir}/key.pem";
    system("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
           . "-out $key 2>/dev/null") == 0 or skip 'no openssl CLI', 6;
    system("openssl pkey -in $key -pubout -out $key.pub 2>/dev/null");
    my $jc = write_config('salesforce.auth' => 'jwt',
                          'salesforce.client_secret_env' => undef,
                          'salesforce.username' => 'integration@example.org',
                          'salesforce.private_key_file' => $key);
    $r = probe($jc, 'ping');
    is($r->{class}, 'ok', 'JWT bearer flow');
    my ($t) = reverse @{ sf_requests(path => qr{oauth2/token}) };
    my %f = map { URI::Escape::uri_unescape($_) } map { split /=/, $_, 2 }
            split /&/, $t->{body};
    is($f{grant_type}, 'urn:ietf:params:oauth:grant-type:jwt-bearer',
       '... grant type');
    my ($h, $p, $s) = split /\./, $f{assertion};
    my $b64 = sub { my $x = shift =~ tr/-_/+\//r; decode_base64($x . '=' x (-length($x) % 4)) };
    my $claims = $json->decode($b64->($p));
    is($claims->{iss}, 'fake-client-id', '... iss = client id');
    is($claims->{aud}, $env->{fake}, '... aud = login URL');
    ok($claims->{exp} > time && $claims->{exp} <= time + 300, '... short exp');
    open my $d, '>', "$env->{dir}/jwt.data"; print $d "$h.$p"; close $d;
    open my $g, '>:raw', "$env->{dir}/jwt.sig"; print $g $b64->($s); close $g;
    my $v = `openssl dgst -sha256 -verify $key.pub -signature $env->{dir}/jwt.sig $env->{dir}/jwt.data 2>&1`;
    like($v, qr/Verified OK/, '... RS256 signature verifies');
}

my $nokey = write_config('salesforce.auth' => 'jwt',
                         'salesforce.client_secret_env' => undef,
                         'salesforce.username' => 'u',
                         'salesforce.private_key_file' => '/nonexistent');
my ($rc, $out, $err) = worker_cmd($nokey, 'check');
like($out, qr/salesforce: FAIL .*private_key_file/, 'missing key: check names it');

my $plog = do { local $/; open my $fh, '<', "$env->{dir}/probe.log"; <$fh> // '' };
unlike($plog, qr/ERROR: \w+Sanitizer|runtime error:/, 'no sanitizer reports')
    or diag $plog;

done_testing();
