const { is } = require('./helpers');

// The engine refuses a process that is not executable; new diagrams start out that way.
module.exports = function() {
  function check(node, reporter) {
    if (is(node, 'bpmn:Process') && node.isExecutable !== true && (node.flowElements || []).length) {
      reporter.report(node.id, 'Process is not executable: tick "Executable" so the engine may run it');
    }
  }
  return { check };
};
