// The engine names its own steps Start and End.
module.exports = function() {
  function check(node, reporter) {
    if (node.id === 'Start' || node.id === 'End') {
      reporter.report(node.id, 'The id "' + node.id + '" is reserved by the engine: rename it');
    }
  }
  return { check };
};
