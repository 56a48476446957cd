const { is, isRoleLane, laneNames } = require('./helpers');

// Every user and manual task sits in a lane named after a role: the lane decides who sees it.
module.exports = function() {
  function check(node, reporter) {
    if (!is(node, 'bpmn:Process')) {
      return;
    }
    const lanes = laneNames(node);
    const hasLanes = Object.keys(lanes).length > 0;
    function visit(elements, inherited) {
      (elements || []).forEach(function(element) {
        const lane = element.id in lanes ? lanes[element.id] : inherited;
        if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask')) {
          if (lane === undefined || lane === null) {
            reporter.report(element.id, hasLanes ? 'Task is in no lane: put it in a lane named after a role'
              : 'Task is in no lane: add lanes named after roles (e.g. AP Coordinator) and put it in one');
          } else if (!isRoleLane(lane)) {
            reporter.report(element.id, 'Lane "' + lane + '" names no known role');
          }
        }
        if (is(element, 'bpmn:SubProcess')) {
          visit(element.flowElements, lane);
        }
      });
    }
    visit(node.flowElements, undefined);
  }
  return { check };
};
