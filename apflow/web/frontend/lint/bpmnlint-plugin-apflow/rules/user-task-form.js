const { is, spiffProperties, hasForeignForm } = require('./helpers');

// A user task names its form, or says it is formless (a plain "done"). A warning, not an error (issue 17): without
// one, the task shows its instructions and a Done button.
module.exports = function() {
  function check(node, reporter) {
    if (!is(node, 'bpmn:UserTask')) {
      return;
    }
    const props = spiffProperties(node);
    if (!props.formJsonSchemaFilename && String(props.formless).toLowerCase() !== 'true' && !hasForeignForm(node)) {
      reporter.report(node.id, 'User task has no form, so it will show its instructions and Done: choose a form, or tick "No form"');
    }
  }
  return { check };
};
