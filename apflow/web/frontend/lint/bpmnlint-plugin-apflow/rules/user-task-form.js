const { is, spiffProperties } = require('./helpers');

// A user task names its form, or says it is formless (a plain "done").
module.exports = function() {
  function check(node, reporter) {
    if (!is(node, 'bpmn:UserTask')) {
      return;
    }
    const props = spiffProperties(node);
    if (!props.formJsonSchemaFilename && String(props.formless).toLowerCase() !== 'true') {
      reporter.report(node.id, 'User task has no form: choose one, or tick "No form"');
    }
  }
  return { check };
};
