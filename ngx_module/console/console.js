/*
 * caresync console: every call sends the bearer token the person typed;
 * every value from the server is written as text, never as markup.
 */
'use strict';

(function () {
  var token = '';
  var FINAL_WAIT = ['queued', 'running', 'retrying'];
  var POLL_MS = 1000;
  var POLL_MAX = 600;            /* ten minutes of polls, then stop */

  function $(id) { return document.getElementById(id); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }

  function say(id, text, cls) {
    var e = $(id);
    e.textContent = text;
    e.className = cls || '';
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  /* A JSON call; resolves {status, body}; a refused token says so once. */
  function call(method, url, body) {
    var opts = { method: method, headers: {}, cache: 'no-store',
                 credentials: 'omit', redirect: 'error' };
    if (!token) {
      return Promise.reject(new Error('Enter the API token first.'));
    }
    opts.headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (res) {
      return res.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        if (res.status === 401) {
          say('token-state', 'The token was refused (401): check it and ' +
              'enter it again.', 'bad');
          throw new Error('Not signed in: the token was refused (401).');
        }
        return { status: res.status, body: j };
      });
    });
  }

  function errorText(r) {
    if (r.body && r.body.errorMessage) { return r.body.errorMessage; }
    return 'HTTP ' + r.status;
  }

  function isFinal(st) { return st && FINAL_WAIT.indexOf(st) < 0; }

  function statusClass(st) {
    if (st === 'failed') { return 'bad'; }
    if (st === 'no_match' || st === 'skipped' || st === 'retrying') {
      return 'warn';
    }
    return isFinal(st) ? 'ok' : '';
  }

  /* Polls a job's status URL until it ends; onStep sees each record. */
  function follow(url, onStep) {
    var n = 0;
    function step() {
      return call('GET', url).then(function (r) {
        if (r.status !== 200) { throw new Error(errorText(r)); }
        onStep(r.body);
        if (isFinal(r.body.status) || ++n >= POLL_MAX) { return r.body; }
        return sleep(POLL_MS).then(step);
      });
    }
    return step();
  }

  function jobUrl(id) { return 'api/jobs/' + encodeURIComponent(id); }

  /* ---- the token ---- */

  $('token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    token = $('token-input').value.trim();
    $('token-input').value = '';
    say('token-state', 'Checking the token…');
    call('GET', 'api/batches').then(function (r) {
      if (r.status === 200) {
        say('token-state', 'Signed in: the token was accepted.', 'ok');
        refreshDlq();
        refreshBatches();
      } else {
        say('token-state', 'The console answered ' + errorText(r), 'bad');
      }
    }).catch(function (e) { say('token-state', e.message, 'bad'); });
  });

  $('token-forget').addEventListener('click', function () {
    token = '';
    say('token-state', 'No token yet.');
  });

  /* ---- job lookup ---- */

  var RECORD = ['status', 'type', 'attempts', 'message', 'last_error',
                'crm_contact_id', 'healthsherpa_contact_id',
                'hint_patient_id', 'next_attempt_at', 'created_at',
                'updated_at', 'trace_id'];

  function showRecord(box, rec, id) {
    var dl = el('dl'), i, k;
    box.textContent = '';
    dl.appendChild(el('dt', 'job'));
    dl.appendChild(el('dd', rec.job_id || id, 'id'));
    for (i = 0; i < RECORD.length; i++) {
      k = RECORD[i];
      if (rec[k] === undefined || rec[k] === '') { continue; }
      dl.appendChild(el('dt', k.replace(/_/g, ' ')));
      dl.appendChild(el('dd', rec[k], k === 'status' ? statusClass(rec[k])
                                                     : ''));
    }
    box.appendChild(dl);
  }

  /*
   * The job's timeline, as `caresync-worker jobs show` prints it: when the
   * edge received it, then each attempt (queued, started, how it ended)
   * with its vendor calls (method, host and path template, status, time).
   */
  function showTimeline(box, attempts) {
    var ol = el('ol', null, 'timeline');
    if (!attempts.length) { return; }
    if (attempts[0].received_at) {
      ol.appendChild(el('li', attempts[0].received_at +
                              '  received by the edge'));
    }
    attempts.forEach(function (a) {
      var li = el('li', (a.queued_at || '') + '  attempt ' + a.attempt +
                        ' started ' + (a.started_at || '') + ', ended ' +
                        (a.ended_at || '') + ': ' + a.status +
                        (a.error ? ' (' + a.error + (a.http_status
                          ? ', HTTP ' + a.http_status : '') + ')' : '')),
          calls = el('ul');
      (a.calls || []).forEach(function (c) {
        calls.appendChild(el('li', c.method + ' ' + c.url + ' -> ' +
                                   c.status + ' (' + c.ms + ' ms)'));
      });
      if (a.calls_dropped) {
        calls.appendChild(el('li', a.calls_dropped + ' more call(s)'));
      }
      li.appendChild(calls);
      ol.appendChild(li);
    });
    box.appendChild(el('h3', 'Timeline'));
    box.appendChild(ol);
  }

  var JOB_ID = /^([0-9A-Z]{1,64}|b[0-9]{14}[0-9a-f]{6}-[0-9]{6})$/;

  function lookupJob(id) {
    var box = $('lookup-result');
    box.textContent = 'Looking up…';
    return call('GET', jobUrl(id)).then(function (r) {
      if (r.status === 200) {
        showRecord(box, r.body, id);
        return call('GET', 'api/timeline/' + encodeURIComponent(id))
          .then(function (t) {
            if (t.status === 200) { showTimeline(box, t.body.timeline); }
          });
      }
      if (r.status === 404) { box.textContent = 'No job ' + id +
        ': check the id; records expire some time after the job ends.'; }
      else { box.textContent = errorText(r); }
    }).catch(function (e) { box.textContent = e.message; });
  }

  /* the jobs about a contact or a patient, newest first */
  function lookupBy(by, id) {
    var box = $('lookup-result'), table = $('lookup-jobs'),
        tbody = table.tBodies[0];
    box.textContent = 'Looking up…';
    call('GET', 'api/lookup?' + by + '=' + encodeURIComponent(id))
      .then(function (r) {
        if (r.status !== 200) { throw new Error(errorText(r)); }
        if (!r.body.jobs.length) {
          box.textContent = 'No jobs about ' + id + ' in the last days.';
          return;
        }
        return Promise.all(r.body.jobs.map(function (j) {
          return call('GET', jobUrl(j)).then(function (x) {
            /* the worker's records do not repeat their own id */
            var rec = x.status === 200 ? x.body : { status: 'expired' };
            rec.job_id = j;
            return rec;
          });
        })).then(function (recs) {
          tbody.textContent = '';
          recs.forEach(function (rec) {
            var tr = el('tr'), td = el('td'), b = el('button', rec.job_id,
                                                     'secondary id');
            b.type = 'button';
            b.addEventListener('click', function () { lookupJob(rec.job_id); });
            td.appendChild(b);
            tr.appendChild(td);
            tr.appendChild(el('td', rec.type));
            tr.appendChild(el('td', rec.status, statusClass(rec.status)));
            tr.appendChild(el('td', rec.message || rec.last_error || ''));
            tr.appendChild(el('td', rec.updated_at || ''));
            tbody.appendChild(tr);
          });
          table.hidden = false;
          box.textContent = recs.length + ' job(s) about ' + id +
                            ', newest first.';
        });
      }).catch(function (e) { box.textContent = e.message; });
  }

  $('lookup-form').addEventListener('submit', function (ev) {
    var id = $('lookup-input').value.trim(), by = $('lookup-by').value;
    ev.preventDefault();
    $('lookup-jobs').hidden = true;
    if (by === 'job') {
      if (!JOB_ID.test(id)) {
        $('lookup-result').textContent = 'A job id is letters A-Z and ' +
          'digits, or a batch item\'s b…-000001.';
        return;
      }
      lookupJob(id);
    } else {
      lookupBy(by, id);
    }
  });

  /* ---- dead letters ---- */

  function replay(entry, cell, button) {
    /* a refused or failed replay says why and can be tried again once
       its cause is fixed (a key added, Redis back) */
    function refused(text) {
      cell.textContent = '';
      cell.appendChild(el('div', text, 'bad'));
      button.disabled = false;
      cell.appendChild(button);
    }
    button.disabled = true;
    cell.textContent = 'Replaying…';
    call('POST', 'api/actions/dlq-replay', { dead_id: entry.id })
      .then(function (r) {
        if (r.status !== 202) { throw new Error(errorText(r)); }
        return follow(r.body.status_url, function () {});
      })
      .then(function (op) {
        /* skipped: another replay took it first; nothing to try again */
        if (op.status === 'skipped') {
          cell.textContent = op.message || op.status;
          return null;
        }
        if (op.status !== 'updated') {
          refused(op.message || op.last_error || op.status);
          return null;
        }
        cell.textContent = 'Queued again; waiting for the job…';
        return follow(jobUrl(entry.job_id), function (rec) {
          cell.textContent = 'Job ' + rec.status + (rec.message
                              ? ': ' + rec.message : '');
        }).then(function (rec) {
          cell.textContent = '';
          cell.appendChild(el('span', 'Replayed: job ' + rec.status,
                              'replay-done ' + statusClass(rec.status)));
          if (rec.message) { cell.appendChild(el('div', rec.message)); }
        });
      })
      .catch(function (e) { refused(e.message); });
  }

  function refreshDlq() {
    var tbody = $('dlq-table').tBodies[0];
    say('dlq-state', 'Loading…');
    call('GET', 'api/dlq').then(function (r) {
      if (r.status !== 200) { throw new Error(errorText(r)); }
      tbody.textContent = '';
      r.body.entries.forEach(function (d) {
        var tr = el('tr'), td = el('td'), b = el('button', 'Replay');
        tr.dataset.job = d.job_id || '';
        tr.appendChild(el('td', d.failed_at));
        tr.appendChild(el('td', d.job_id, 'id'));
        tr.appendChild(el('td', d.type));
        tr.appendChild(el('td', d.attempts));
        tr.appendChild(el('td', d.error));
        b.type = 'button';
        b.setAttribute('aria-label', 'Replay job ' + d.job_id);
        b.addEventListener('click', function () { replay(d, td, b); });
        td.appendChild(b);
        tr.appendChild(td);
        tbody.appendChild(tr);
      });
      say('dlq-state', r.body.entries.length
          ? r.body.entries.length + ' dead letter(s), newest first.'
          : 'The dead-letter queue is empty.');
    }).catch(function (e) { say('dlq-state', e.message, 'bad'); });
  }

  $('dlq-refresh').addEventListener('click', refreshDlq);

  /* ---- batches ---- */

  var COUNTS = ['matched', 'no_match', 'created', 'updated', 'linked',
                'skipped', 'failed', 'pending'];
  var batchTimer = null;
  var shown = { id: null, cursor: '0' };
  var kinds = {};       /* batch id -> its kind, for the report's header */

  function batchItem(id) {
    var li = $('batch-' + id), head, b;
    if (li) { return li; }
    li = el('li');
    li.id = 'batch-' + id;
    head = el('div', null, 'batch-head');
    head.appendChild(el('strong', id, 'id'));
    head.appendChild(el('span', '', 'kind'));
    b = el('progress');
    b.max = 1; b.value = 0;
    b.setAttribute('aria-label', 'Progress of batch ' + id);
    head.appendChild(b);
    head.appendChild(el('span', '', 'pct'));
    li.appendChild(head);
    li.appendChild(el('div', '', 'counts'));
    b = el('button', 'Results', 'secondary');
    b.type = 'button';
    b.addEventListener('click', function () { showResults(id, true); });
    li.appendChild(b);
    b = el('button', 'Abort', 'secondary abort');
    b.type = 'button';
    b.addEventListener('click', function () { abort(id, b); });
    li.appendChild(document.createTextNode(' '));
    li.appendChild(b);
    $('batches-list').appendChild(li);
    return li;
  }

  function drawBatch(id, d) {
    var li = batchItem(id), done = d.total - d.pending, parts = [],
        pct = d.total ? Math.floor(100 * done / d.total) : 100, i;
    li.querySelector('.kind').textContent = d.kind || '';
    kinds[id] = d.kind;
    li.querySelector('progress').max = Math.max(d.total, 1);
    li.querySelector('progress').value = d.total ? done : 1;
    li.querySelector('.pct').textContent = done + '/' + d.total + ' (' +
      pct + ' %)' + (d.pending === 0 ? ' finished'
                                     : d.aborted ? ' aborting' : '');
    for (i = 0; i < COUNTS.length; i++) {
      if (d[COUNTS[i]]) { parts.push(COUNTS[i].replace('_', ' ') + ' ' +
                                     d[COUNTS[i]]); }
    }
    li.querySelector('.counts').textContent = parts.join(' · ') +
      (d.ignored ? ' · ' + d.ignored + ' row(s) ignored' : '');
    li.querySelector('.abort').disabled = d.pending === 0 || !!d.aborted;
    return d.pending === 0;
  }

  function refreshBatches() {
    if (batchTimer) { clearTimeout(batchTimer); batchTimer = null; }
    call('GET', 'api/batches').then(function (r) {
      if (r.status !== 200) { throw new Error(errorText(r)); }
      say('batches-state', r.body.batches.length ? ''
          : 'No batches in the last days.');
      return Promise.all(r.body.batches.map(function (id) {
        return call('GET', 'api/batches/' + id).then(function (b) {
          return b.status === 200 ? drawBatch(id, b.body) : true;
        });
      }));
    }).then(function (done) {
      /* live while any batch runs */
      if (done.indexOf(false) >= 0) {
        batchTimer = setTimeout(refreshBatches, POLL_MS);
      }
      if (shown.id) { showResults(shown.id, false); }
    }).catch(function (e) { say('batches-state', e.message, 'bad'); });
  }

  function abort(id, button) {
    button.disabled = true;
    call('POST', 'api/batches/' + id + '/abort').then(function (r) {
      if (r.status !== 200) { throw new Error(errorText(r)); }
      refreshBatches();
    }).catch(function (e) { say('batches-state', e.message, 'bad');
                            button.disabled = false; });
  }

  function showResults(id, fresh) {
    var tbody = $('results-table').tBodies[0],
        filter = $('results-filter').value;
    if (fresh || shown.id !== id) { shown.cursor = '0'; }
    shown.id = id;
    $('results').hidden = false;
    $('results-h').textContent = 'Results of batch ' + id;
    call('GET', 'api/batches/' + id + '/results?cursor=' + shown.cursor)
      .then(function (r) {
        if (r.status !== 200) { throw new Error(errorText(r)); }
        if (shown.cursor === '0') { tbody.textContent = ''; }
        r.body.results.forEach(function (x) {
          var tr = el('tr');
          tr.dataset.status = x.status;
          tr.hidden = filter !== '' && x.status !== filter;
          tr.appendChild(el('td', x.item, 'id'));
          tr.appendChild(el('td', x.status.replace('_', ' '),
                            statusClass(x.status)));
          tr.appendChild(el('td', x.message));
          tr.appendChild(el('td', x.job_id, 'id'));
          tbody.appendChild(tr);
        });
        $('results-more').hidden = r.body.cursor === '0';
        $('results-more').dataset.cursor = r.body.cursor;
      }).catch(function (e) { say('batches-state', e.message, 'bad'); });
  }

  $('results-filter').addEventListener('change', function () {
    var f = this.value;
    Array.prototype.forEach.call($('results-table').tBodies[0].rows,
      function (tr) { tr.hidden = f !== '' && tr.dataset.status !== f; });
  });

  $('results-more').addEventListener('click', function () {
    shown.cursor = this.dataset.cursor;
    showResults(shown.id, false);
  });

  /*
   * The CSV report of the batch shown: every result, read page by page,
   * as `caresync-worker batch report` writes its first four columns
   * (the command adds the id found on the other side).  A cell that could
   * be a spreadsheet formula gets a ' in front, as the command does.
   */
  var CSV_PAGES = 1000;

  function csvCell(v) {
    v = v === undefined || v === null ? '' : String(v);
    if (/^[=+\-@\t\r]/.test(v)) { v = "'" + v; }
    return /[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
  }

  function csvReport(id) {
    var lines = [(kinds[id] === 'hint-to-crm' ? 'patient_id' : 'contact_id')
                 + ',status,message,job_id'], pages = 0;
    say('results-csv-state', 'Reading the results…');
    function page(cursor) {
      return call('GET', 'api/batches/' + id + '/results?cursor=' + cursor)
        .then(function (r) {
          if (r.status !== 200) { throw new Error(errorText(r)); }
          r.body.results.forEach(function (x) {
            lines.push([x.item, x.status, x.message, x.job_id]
                       .map(csvCell).join(','));
          });
          if (r.body.cursor !== '0' && ++pages < CSV_PAGES) {
            return page(r.body.cursor);
          }
        });
    }
    page('0').then(function () {
      var a = el('a'), url = URL.createObjectURL(
        new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv' }));
      a.href = url;
      a.download = 'batch-' + id + '.csv';
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      say('results-csv-state', (lines.length - 1) + ' result(s) in ' +
          a.download, 'ok');
    }).catch(function (e) { say('results-csv-state', e.message, 'bad'); });
  }

  $('results-csv').addEventListener('click', function () {
    if (shown.id) { csvReport(shown.id); }
  });

  $('batches-refresh').addEventListener('click', refreshBatches);

  /* ---- contact actions ---- */

  $('contact-form').addEventListener('submit', function (ev) {
    var action = ev.submitter ? ev.submitter.value : 'healthsherpa-sync',
        box = $('contact-result'),
        body = { contact_id: $('contact-input').value.trim() };
    ev.preventDefault();
    if (action === 'healthsherpa-sync') {
      body.agent = $('agent-input').value.trim();
      if (!body.agent) {
        box.textContent = 'Sync from HealthSherpa needs the agent.';
        return;
      }
    }
    box.textContent = 'Queueing…';
    call('POST', 'api/actions/' + action, body).then(function (r) {
      if (r.status !== 202) { throw new Error(errorText(r)); }
      box.textContent = 'Queued as job ' + r.body.job_id + '…';
      return follow(r.body.status_url, function (rec) {
        box.textContent = 'Job ' + r.body.job_id + ': ' + rec.status + '…';
      });
    }).then(function (rec) {
      if (rec) { showRecord(box, rec); }
    }).catch(function (e) { box.textContent = e.message; });
  });

  /* ---- "Login to HealthSherpa": the worker issues the URL ---- */

  $('hslogin-form').addEventListener('submit', function (ev) {
    var agent = $('hslogin-agent').value.trim(), box = $('hslogin-result'),
        tab;
    ev.preventDefault();
    /* opened now, while the click lasts; pointed at the URL once known */
    tab = window.open('', '_blank');
    if (tab) { tab.opener = null; }
    box.textContent = 'Asking for the login page…';
    call('POST', 'api/actions/hs-login', { agent: agent }).then(function (r) {
      if (r.status !== 202) { throw new Error(errorText(r)); }
      return follow(r.body.status_url, function () {});
    }).then(function (rec) {
      if (rec.status !== 'updated' || !/^https?:\/\//.test(rec.message)) {
        throw new Error(rec.last_error || rec.message || rec.status);
      }
      if (tab) {
        tab.location = rec.message;
        box.textContent = 'HealthSherpa\'s login opened in a new tab: the ' +
                          'agent logs in there (the link works once, for ' +
                          'ten minutes).';
      } else {
        box.textContent = '';
        var a = el('a', 'Open HealthSherpa\'s login');
        a.href = rec.message;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        box.appendChild(a);
      }
    }).catch(function (e) {
      if (tab) { tab.close(); }
      box.textContent = e.message;
    });
  });

  /* ---- the sync log ---- */

  $('log-form').addEventListener('submit', function (ev) {
    var since = parseInt($('log-since').value, 10),
        url = 'api/log?level=' + encodeURIComponent($('log-level').value),
        tbody = $('log-table').tBodies[0];
    ev.preventDefault();
    if (since > 0) { url += '&since=' + (Date.now() - since * 1000); }
    say('log-state', 'Loading…');
    call('GET', url).then(function (r) {
      if (r.status !== 200) { throw new Error(errorText(r)); }
      tbody.textContent = '';
      r.body.entries.forEach(function (x) {
        var tr = el('tr');
        tr.appendChild(el('td', x.ts, 'id'));
        tr.appendChild(el('td', x.level, x.level === 'debug' ? '' : 'bad'));
        tr.appendChild(el('td', x.component));
        tr.appendChild(el('td', x.msg));
        tbody.appendChild(tr);
      });
      say('log-state', r.body.entries.length + ' line(s), newest first.');
    }).catch(function (e) { say('log-state', e.message, 'bad'); });
  });
}());
