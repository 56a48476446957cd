const { is } = require('./helpers');

// A timer needs a duration, date or cycle; the server checks the expression itself.
module.exports = function() {
  function check(node, reporter) {
    if (!is(node, 'bpmn:TimerEventDefinition')) {
      return;
    }
    const expression = node.timeDuration || node.timeDate || node.timeCycle;
    if (!expression || !String(expression.body || '').trim()) {
      const owner = node.$parent && node.$parent.id ? node.$parent.id : node.id;
      reporter.report(owner, 'Timer has no expression: give e.g. P7D or end_of_half_term()');
    }
  }
  return { check };
};
