/*
 * The OAuth callback's page: follows the job that trades the code
 * (data-job) until it ends, and says whether the agent is logged in.
 */
'use strict';

(function () {
  var main = document.getElementById('login'),
      state = document.getElementById('state'),
      job = main && main.dataset.job, n = 0;

  if (!job) { return; }

  function poll() {
    fetch('status?job=' + encodeURIComponent(job),
          { cache: 'no-store', credentials: 'omit' })
      .then(function (r) { return r.json(); })
      .then(function (rec) {
        if (rec.status === 'updated') {
          state.textContent = 'Logged in to HealthSherpa. You can close ' +
                              'this tab.';
          state.className = 'ok';
        } else if (rec.status === 'failed') {
          state.textContent = 'The login failed: ' + (rec.message ||
                              'see the console') + '';
          state.className = 'bad';
        } else if (++n < 120) {
          setTimeout(poll, 1000);
        } else {
          state.textContent = 'The login is taking long: look at the ' +
                              'job in the console (' + job + ').';
        }
      })
      .catch(function () { if (++n < 120) { setTimeout(poll, 1000); } });
  }

  poll();
}());
