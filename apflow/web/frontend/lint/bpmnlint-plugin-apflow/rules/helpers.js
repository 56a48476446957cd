// Shared by the rules: reading spiffworkflow properties and lanes from the bpmn-js model.

// Role titles and the lane names that stand for them; kept equal to apflow/roles.py by
// tests/engine/test_lint_rules.py.
const ROLE_LANES = [
  'ap coordinator', 'headteacher', 'dsl', 'deputy dsl', 'senco', 'provider staff', 'la officer', 'parent', 'pupil', 'manager',
  'coordinator', 'deputy_dsl', 'provider', 'la_officer',
  'designated safeguarding lead', 'deputy designated safeguarding lead', 'senco / head of year', 'head of year', 'tutor', 'learning mentor',
  'parent / carer', 'parent/carer', 'carer'
];

function isRoleLane(name) {
  const key = String(name || '').trim().toLowerCase().split(/\s+/).join(' ');
  return ROLE_LANES.indexOf(key) !== -1;
}

function is(node, type) {
  return node && typeof node.$instanceOf === 'function' && node.$instanceOf(type);
}

function spiffProperties(node) {
  const found = {};
  const values = (node.extensionElements && node.extensionElements.values) || [];
  values.forEach(function(ext) {
    if (ext.$type === 'spiffworkflow:Properties') {
      (ext.properties || []).forEach(function(prop) {
        if (prop.name) {
          found[prop.name] = prop.value;
        }
      });
    }
  });
  return found;
}

// flow node id -> lane name, for a process (nested lane sets included).
function laneNames(process) {
  const lanes = {};
  function walk(laneSet) {
    ((laneSet && laneSet.lanes) || []).forEach(function(lane) {
      (lane.flowNodeRef || []).forEach(function(ref) {
        lanes[ref.id] = lane.name || '';
      });
      walk(lane.childLaneSet);
    });
  }
  (process.laneSets || []).forEach(walk);
  return lanes;
}

module.exports = { ROLE_LANES, isRoleLane, is, spiffProperties, laneNames };
