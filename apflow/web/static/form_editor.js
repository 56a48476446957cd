/* The form editor: JSON text on the left, the form as people will see it on the right (rendered on
 * the server by the same renderer as task pages), save with a revision check. */
(function () {
  'use strict';

  function csrf() { return document.querySelector('meta[name="csrf-token"]').content; }

  function call(method, url, body) {
    return fetch(url, {
      method: method, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf(), 'Accept': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) { return r.json().catch(function () { return {}; }).then(function (d) { return { status: r.status, data: d }; }); });
  }

  function showProblems(box, problems) {
    box.innerHTML = '';
    if (!problems.length) { return; }
    var list = document.createElement('ul');
    problems.forEach(function (p) {
      var li = document.createElement('li');
      li.textContent = p.message + ' Fix: ' + p.fix;
      list.appendChild(li);
    });
    box.className = 'error-summary';
    box.appendChild(list);
  }

  document.addEventListener('DOMContentLoaded', function () {
    var page = document.getElementById('form-editor-page');
    var text = document.getElementById('form-text');
    var preview = document.getElementById('form-preview');
    var problems = document.getElementById('form-problems');
    var uiChoice = document.getElementById('ui-choice');
    var revision = parseInt(page.dataset.revision, 10) || 0;
    var uiText = null;
    var timer = null;

    function loadUi() {
      if (!uiChoice || !uiChoice.value) { uiText = null; return Promise.resolve(); }
      return call('GET', page.dataset.forms + '/' + encodeURIComponent(uiChoice.value)).then(function (res) {
        uiText = res.status === 200 ? res.data.content : null;
      });
    }

    function refresh() {
      if (page.dataset.kind !== 'schema') { return; }
      call('POST', page.dataset.preview, { schema: text.value, ui_schema: uiText }).then(function (res) {
        var found = (res.data && res.data.problems) || [];
        showProblems(problems, found);
        if (!found.length && res.data.html) {
          preview.innerHTML = res.data.html;
          problems.className = '';
        }
        page.dataset.previewed = String((parseInt(page.dataset.previewed, 10) || 0) + 1);
      });
    }

    text.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(refresh, 350); });
    if (uiChoice) { uiChoice.addEventListener('change', function () { loadUi().then(refresh); }); }
    document.getElementById('save-form').addEventListener('click', function () {
      call('PUT', page.dataset.save, { content: text.value, revision: revision }).then(function (res) {
        var state = document.getElementById('form-state');
        if (res.status === 200) {
          revision = res.data.revision;
          showProblems(problems, []);
          problems.className = '';
          state.textContent = 'Saved revision ' + revision + '. It goes live with the next deploy of each process that uses it.';
          return;
        }
        var error = res.data.error || {};
        showProblems(problems, (error.details && error.details.problems) || [{ message: error.message || 'Not saved.', fix: 'Reload and try again.' }]);
        if (res.status === 409) { state.textContent = error.message; }
      });
    });
    loadUi().then(refresh);
  });
}());
