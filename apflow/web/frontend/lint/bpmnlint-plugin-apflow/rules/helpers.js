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
  return ROLE_LANES.indexOf(key) !== -1 || customRoles().indexOf(slug(key)) !== -1;
}

// The roles organisations defined (issue 17): the editor page lists every role's title in <datalist id="role-names">,
// from the server's role catalogue; a lane names one by title or by key (its title as a slug).
function slug(text) {
  return String(text || '').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}

function customRoles() {
  if (typeof document === 'undefined' || !document.getElementById('role-names')) {
    return [];
  }
  return Array.prototype.map.call(document.getElementById('role-names').options, function(option) { return slug(option.value); });
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

// A foreign attribute, typed (a Camunda descriptor is loaded) or kept loose in $attrs (it is not).
function attr(node, name) {
  const typed = typeof node.get === 'function' ? safeGet(node, name) : undefined;
  if (typed !== undefined && typed !== null && typed !== '') {
    return typed;
  }
  const loose = node.$attrs || {};
  const local = name.split(':')[1];
  const key = Object.keys(loose).find(function(k) { return k === name || k.split(':')[1] === local && k.indexOf('camunda') !== -1; });
  return key ? loose[key] : undefined;
}

function safeGet(node, name) {
  try {
    return node.get(name);
  } catch (err) {
    return undefined;
  }
}

function extensions(node, localName) {
  const values = (node.extensionElements && node.extensionElements.values) || [];
  return values.filter(function(ext) { return String(ext.$type || '').split(':')[1] === localName; });
}

// Who works a task when another tool's convention names it (issue 17): candidate groups take the lane's place.
function candidateGroups(node) {
  const zeebe = extensions(node, 'AssignmentDefinition').map(function(ext) { return ext.candidateGroups || (ext.$attrs || {}).candidateGroups; });
  return [attr(node, 'camunda:candidateGroups'), spiffProperties(node).candidateGroups].concat(zeebe)
    .filter(function(value) { return value && String(value).trim(); });
}

// A form named the way Camunda 7 or 8 name one; the server converts it (see docs/authoring.md).
function hasForeignForm(node) {
  return Boolean(attr(node, 'camunda:formKey') || attr(node, 'camunda:formRef') || extensions(node, 'FormData').length
    || extensions(node, 'FormDefinition').length);
}

module.exports = { ROLE_LANES, isRoleLane, is, spiffProperties, laneNames, candidateGroups, hasForeignForm };
