// Small behaviours the templates ask for with data- attributes, so that no page needs inline script: the
// Content-Security-Policy (apflow/web/__init__.py) runs scripts only from the app's own files.
document.addEventListener('submit', function (event) {
  var form = event.target;
  if (form.hasAttribute('data-no-submit')) {  // forms that scripts read, never sent (the editor's properties, previews)
    event.preventDefault();
    return;
  }
  var opens = form.getAttribute('data-opens');  // go to a page named by what was typed (a new form file)
  if (opens !== null) {
    event.preventDefault();
    var name = form.elements.name.value.trim();
    if (name) {
      window.location = opens.replace('__NAME__', encodeURIComponent(name)) + '?new=1';
    }
  }
}, true);

document.addEventListener('change', function (event) {
  if (event.target.hasAttribute && event.target.hasAttribute('data-submit-on-change')) {
    event.target.form.submit();
  }
});
