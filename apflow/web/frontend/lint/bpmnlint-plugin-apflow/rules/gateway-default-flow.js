const { is } = require('./helpers');

// An exclusive gateway that splits needs a default flow, or a case matching no condition stops the placement.
module.exports = function() {
  function check(node, reporter) {
    if (is(node, 'bpmn:ExclusiveGateway') && (node.outgoing || []).length > 1 && !node.default) {
      reporter.report(node.id, 'Gateway has no default flow');
    }
  }
  return { check };
};
