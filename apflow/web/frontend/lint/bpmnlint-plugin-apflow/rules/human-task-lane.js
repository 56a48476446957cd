const { is, isRoleLane, laneNames, candidateGroups } = require('./helpers');

// Every user, manual and plain task sits in a lane named after a role (the lane decides who sees it), unless its
// candidate groups name the roles instead.
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
        const plainTask = element.$type === 'bpmn:Task';
        if ((is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask') || plainTask) && !candidateGroups(element).length) {
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
