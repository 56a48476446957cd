/* apflow's diagram editor: bpmn-js (from npm, served by the app) with a side form for the
 * properties our engine reads, live lint (bpmnlint with our rules), and save / validate / deploy
 * against /api/v1/processes/<id>/....
 *
 * The side form edits the model only through bpmn-js's modeling service, so every change can be
 * undone and is written back by saveXML. window.apflowModeler exposes the pieces the browser tests
 * drive directly (the import-edit-save round trip over every diagram in bpmn/).
 */
(function () {
  'use strict';

  // Extension namespaces the editor reads as typed elements. The descriptors are JSON files the app serves
  // (spiffworkflow: ours, in static/spiffworkflow.json, covering every element SpiffArena writes; camunda and
  // zeebe: camunda-bpmn-moddle and zeebe-bpmn-moddle from npm), loaded once by loadDescriptors(). Elements of any
  // other namespace are kept as generic elements by bpmn-moddle, so import then save loses nothing.
  var NAMESPACES = {
    camunda: 'http://camunda.org/schema/1.0/bpmn',
    zeebe: 'http://camunda.org/schema/zeebe/1.0'
  };
  var descriptors = {};

  function loadDescriptors(urls) {
    return Promise.all(Object.keys(urls || {}).map(function (name) {
      return fetch(urls[name], { credentials: 'same-origin' }).then(function (response) {
        if (!response.ok) { throw new Error('the ' + name + ' extension descriptor could not be loaded (' + response.status + ')'); }
        return response.json();
      }).then(function (descriptor) { descriptors[name] = descriptor; });
    }));
  }

  var SPIFF_URI = 'http://spiffworkflow.org/bpmn/schema/1.0/core';

  // A spiffworkflow element newer than our descriptor would be dropped on import (bpmn-moddle only keeps unknown
  // elements generically when their whole namespace is unknown). So each one the diagram uses gets a type of its
  // own, made here, that keeps its attributes, its text and any such elements inside it.
  function spiffDescriptorFor(xml) {
    var base = descriptors.spiffworkflow;
    if (!base || !xml || xml.indexOf(SPIFF_URI) === -1 || typeof DOMParser === 'undefined') { return base; }
    var known = {};
    base.types.forEach(function (type) {
      known[type.name.charAt(0).toLowerCase() + type.name.slice(1)] = true;
      (type.properties || []).forEach(function (prop) { if (!prop.isAttr && !prop.isBody) { known[prop.name] = true; } });
    });
    var doc = new DOMParser().parseFromString(xml, 'application/xml');
    var unknown = {};
    Array.prototype.forEach.call(doc.getElementsByTagNameNS(SPIFF_URI, '*'), function (node) {
      var local = node.localName;
      if (!known[local] && /^[a-z]/.test(local)) { unknown[local] = true; }
    });
    var names = Object.keys(unknown);
    if (!names.length) { return base; }
    var descriptor = JSON.parse(JSON.stringify(base));
    descriptor.types.push({ name: 'KeptElement', isAbstract: true, superClass: ['Element'], properties: [
      { name: 'keptText', type: 'String', isBody: true }, { name: 'keptChildren', type: 'KeptElement', isMany: true }] });
    names.forEach(function (local) {
      descriptor.types.push({ name: local.charAt(0).toUpperCase() + local.slice(1), superClass: ['KeptElement'] });
    });
    return descriptor;
  }

  // camunda-bpmn-moddle and zeebe-bpmn-moddle cannot be loaded together (both add `modelerTemplate` and other
  // properties to the same BPMN elements), so a diagram gets the one its namespaces call for: zeebe for Camunda 8,
  // camunda for Camunda 7. The other's elements, if any, are still kept, generically; so are all of them when
  // `plain` (openDiagram's second try).
  function extensionsFor(xml, plain) {
    var extensions = {};
    var spiff = spiffDescriptorFor(xml);
    if (spiff) { extensions.spiffworkflow = spiff; }
    var text = xml || '';
    if (plain) { return extensions; }
    if (descriptors.zeebe && text.indexOf(NAMESPACES.zeebe) !== -1) {
      extensions.zeebe = descriptors.zeebe;
    } else if (descriptors.camunda && text.indexOf(NAMESPACES.camunda) !== -1) {
      extensions.camunda = descriptors.camunda;
    }
    return extensions;
  }

  // A reference to an id the file does not define (SpiffArena names a process variable in loopDataInputRef, for
  // one) is dropped by bpmn-moddle on import. Put each back as a stand-in holding that id, so saving writes it as
  // it was. Layout (bpmndi) references are left alone: the canvas has already shown what it could.
  function keepUnresolvedReferences(modeler, warnings) {
    var moddle = modeler.get('moddle');
    var kept = [];
    (warnings || []).forEach(function (warning) {
      var owner = warning.element, property = warning.property, id = warning.value;
      if (!owner || !property || typeof id !== 'string' || !/^unresolved reference/.test(warning.message || '')) { return; }
      if (String(owner.$type || '').indexOf('bpmndi:') === 0) { return; }
      var descriptor = owner.$descriptor && owner.$descriptor.propertiesByName[property];
      if (!descriptor) { return; }
      var standIn = moddle.create('bpmn:BaseElement', { id: id });
      if (descriptor.isMany) { owner.get(property).push(standIn); } else { owner.set(property, standIn); }
      kept.push(warning);
    });
    return (warnings || []).filter(function (warning) { return kept.indexOf(warning) === -1; });
  }

  // Warnings about what an import left out. An unknown attribute is not among them: bpmn-moddle keeps it.
  function importDiagram(modeler, xml) {
    return modeler.importXML(xml).then(function (result) {
      return keepUnresolvedReferences(modeler, result.warnings).filter(function (warning) {
        return !/^unknown attribute/.test(warning.message || '');
      });
    });
  }

  // A modeler for this diagram, with what its import left out. Should Camunda's typed descriptor not fit the file
  // (an element newer than it, say), the diagram is opened again with Camunda's elements kept generically.
  function openDiagram(container, lint, xml) {
    var modeler = createModeler(container, lint, xml);
    var typed = Object.keys(extensionsFor(xml)).length !== Object.keys(extensionsFor(xml, true)).length;
    // A trial read (no drawing, no lint) says whether the typed descriptor would leave anything out.
    var trial = !typed ? Promise.resolve(false) : modeler.get('moddle').fromXML(xml, 'bpmn:Definitions').then(function (result) {
      return result.warnings.some(function (w) { return !/^(unresolved reference|unknown attribute)/.test(w.message || ''); });
    }, function () { return false; });
    return trial.then(function (refit) {
      if (refit) {
        modeler.destroy();
        modeler = createModeler(container, lint, xml, true);
      }
      return importDiagram(modeler, xml).then(function (warnings) { return { modeler: modeler, warnings: warnings }; });
    });
  }

  var KNOWN_PROPERTIES = ['formJsonSchemaFilename', 'formUiSchemaFilename', 'formless', 'dueIn', 'assignTo'];
  var TIMER_KINDS = [['timeDuration', 'After a time (duration)'], ['timeDate', 'At a date and time'], ['timeCycle', 'Repeating (cycle)']];

  function createModeler(container, lint, xml, plain) {
    var options = { container: container, moddleExtensions: extensionsFor(xml, plain) };
    if (lint !== false && window.BpmnJSBpmnlint && window.ApflowLintConfig) {
      options.additionalModules = [window.BpmnJSBpmnlint];
      options.linting = { bpmnlint: window.ApflowLintConfig, active: true };
    }
    return new window.BpmnJS(options);
  }

  function is(bo, type) {
    return bo && typeof bo.$instanceOf === 'function' && bo.$instanceOf(type);
  }

  // -- reading and writing spiffworkflow properties -------------------------------------------

  function propertiesElement(bo) {
    var values = (bo.extensionElements && bo.extensionElements.get('values')) || [];
    for (var i = 0; i < values.length; i++) {
      if (values[i].$type === 'spiffworkflow:Properties') { return values[i]; }
    }
    return null;
  }

  function spiffProperties(bo) {
    var found = {};
    var props = propertiesElement(bo);
    ((props && props.get('properties')) || []).forEach(function (p) { if (p.name) { found[p.name] = p.value; } });
    return found;
  }

  function setSpiffProperty(modeler, element, name, value) {
    var modeling = modeler.get('modeling');
    var moddle = modeler.get('moddle');
    var bo = element.businessObject;
    var empty = value === undefined || value === null || String(value) === '';
    var props = propertiesElement(bo);
    if (!props) {
      if (empty) { return; }
      var ext = bo.extensionElements;
      if (!ext) {
        ext = moddle.create('bpmn:ExtensionElements', { values: [] });
        modeling.updateProperties(element, { extensionElements: ext });
      }
      props = moddle.create('spiffworkflow:Properties', { properties: [] });
      props.$parent = ext;
      modeling.updateModdleProperties(element, ext, { values: ext.get('values').concat([props]) });
    }
    var list = props.get('properties');
    var existing = list.filter(function (p) { return p.name === name; })[0];
    if (empty) {
      if (existing) {
        modeling.updateModdleProperties(element, props, { properties: list.filter(function (p) { return p !== existing; }) });
      }
    } else if (existing) {
      if (existing.value !== String(value)) { modeling.updateModdleProperties(element, existing, { value: String(value) }); }
    } else {
      var prop = moddle.create('spiffworkflow:Property', { name: name, value: String(value) });
      prop.$parent = props;
      modeling.updateModdleProperties(element, props, { properties: list.concat([prop]) });
    }
  }

  function timerDefinition(bo) {
    return ((bo.eventDefinitions) || []).filter(function (d) { return is(d, 'bpmn:TimerEventDefinition'); })[0] || null;
  }

  function signalDefinition(bo) {
    return ((bo.eventDefinitions) || []).filter(function (d) { return is(d, 'bpmn:SignalEventDefinition'); })[0] || null;
  }

  function timerOf(bo) {
    var def = timerDefinition(bo);
    if (!def) { return null; }
    for (var i = 0; i < TIMER_KINDS.length; i++) {
      var expr = def.get(TIMER_KINDS[i][0]);
      if (expr) { return { kind: TIMER_KINDS[i][0], expression: expr.body || '' }; }
    }
    return { kind: 'timeDuration', expression: '' };
  }

  function setTimer(modeler, element, kind, expression) {
    var def = timerDefinition(element.businessObject);
    if (!def) { return; }
    var change = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
    var body = modeler.get('moddle').create('bpmn:FormalExpression', { body: expression });
    body.$parent = def;
    change[kind] = body;
    modeler.get('modeling').updateModdleProperties(element, def, change);
  }

  function setCondition(modeler, element, text) {
    var value;
    if (text && text.trim()) {
      value = modeler.get('moddle').create('bpmn:FormalExpression', { body: text });
      value.$parent = element.businessObject;
    }
    modeler.get('modeling').updateProperties(element, { conditionExpression: value });
  }

  function setSignal(modeler, element, name) {
    var def = signalDefinition(element.businessObject);
    if (!def) { return; }
    var definitions = modeler.getDefinitions();
    var roots = definitions.get('rootElements');
    var signal = roots.filter(function (r) { return is(r, 'bpmn:Signal') && r.name === name; })[0];
    if (!signal && name) {
      signal = modeler.get('moddle').create('bpmn:Signal', { id: 'Signal_' + Math.random().toString(36).slice(2, 9), name: name });
      signal.$parent = definitions;
      roots.push(signal);
    }
    modeler.get('modeling').updateModdleProperties(element, def, { signalRef: signal || undefined });
  }

  function setDocumentation(modeler, element, text) {
    var docs = [];
    if (text && text.trim()) {
      var doc = modeler.get('moddle').create('bpmn:Documentation', { text: text });
      doc.$parent = element.businessObject;
      docs = [doc];
    }
    modeler.get('modeling').updateProperties(element, { documentation: docs });
  }

  function processOf(element) {
    var bo = element && element.businessObject;
    if (is(bo, 'bpmn:Participant')) { return bo.processRef; }
    if (is(bo, 'bpmn:Process')) { return bo; }
    return null;
  }

  // -- the side form ----------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'text') { node.textContent = attrs[key]; } else if (attrs[key] !== undefined && attrs[key] !== null) { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  var fieldCount = 0;

  function field(label, input, help) {
    var id = 'prop-' + (++fieldCount);
    input.id = id;
    var parts = [el('label', { 'for': id, text: label }), input];
    if (help) {
      input.setAttribute('aria-describedby', id + '-help');
      parts.push(el('small', { id: id + '-help', text: help }));
    }
    return el('div', { 'class': 'prop-field' }, parts);
  }

  function textInput(value, onChange, attrs) {
    var input = el('input', Object.assign({ type: 'text', value: value || '' }, attrs || {}));
    input.addEventListener('change', function () { onChange(input.value); });
    return input;
  }

  function textArea(value, onChange, rows) {
    var area = el('textarea', { rows: String(rows || 3) });
    area.value = value || '';
    area.addEventListener('change', function () { onChange(area.value); });
    return area;
  }

  function select(options, value, onChange) {
    var node = el('select');
    options.forEach(function (opt) {
      var o = el('option', { value: opt[0], text: opt[1] });
      if (opt[0] === (value || '')) { o.selected = true; }
      node.appendChild(o);
    });
    node.addEventListener('change', function () { onChange(node.value); });
    return node;
  }

  function checkbox(label, checked, onChange) {
    var id = 'prop-' + (++fieldCount);
    var box = el('input', { type: 'checkbox', id: id });
    box.checked = !!checked;
    box.addEventListener('change', function () { onChange(box.checked); });
    return el('div', { 'class': 'prop-field' }, [el('label', { 'for': id }, [box, document.createTextNode(' ' + label)])]);
  }

  function formOptions(forms, kind, current) {
    var names = forms.filter(function (f) { return f.kind === kind; }).map(function (f) { return f.name; });
    if (current && names.indexOf(current) === -1) { names.unshift(current); }
    return [['', kind === 'ui' ? '(no UI schema)' : '(choose a form)']].concat(names.map(function (n) { return [n, n]; }));
  }

  function typeLabel(bo) {
    return String(bo.$type || '').replace('bpmn:', '').replace(/([a-z])([A-Z])/g, '$1 $2');
  }

  function renderPanel(state, element) {
    var modeler = state.modeler;
    var form = state.panel;
    form.innerHTML = '';
    if (!element) {
      element = modeler.get('canvas').getRootElement();
    }
    if (element.labelTarget) {
      element = element.labelTarget;  // a flow's or event's label edits the flow or event itself
    }
    var bo = element && element.businessObject;
    if (!bo) {
      form.appendChild(el('p', { 'class': 'muted', text: 'Select an element in the diagram to see and change its properties.' }));
      return;
    }
    var update = function (props) { modeler.get('modeling').updateProperties(element, props); };
    var parts = [el('p', { 'class': 'muted', text: typeLabel(bo) + (bo.id ? ' · ' + bo.id : '') })];

    if (!is(bo, 'bpmn:Collaboration') && !is(bo, 'bpmn:Process') && !is(bo, 'bpmn:Lane')) {
      parts.push(field('Name', textInput(bo.name, function (v) { modeler.get('modeling').updateLabel(element, v); })));
    }

    var process = processOf(element) || (is(bo, 'bpmn:Collaboration') ? (bo.participants || []).map(function (p) { return p.processRef; }).filter(Boolean)[0] : null);
    if (process) {
      var owner = is(bo, 'bpmn:Collaboration') ? modeler.get('elementRegistry').filter(function (e) { return e.businessObject && e.businessObject.processRef === process; })[0] || element : element;
      parts.push(el('h3', { text: 'Process' }));
      parts.push(field('Process id', el('input', { type: 'text', value: process.id, readonly: 'readonly' }), 'The id names the process everywhere; it cannot change here.'));
      parts.push(field('Process name', textInput(process.name, function (v) { modeler.get('modeling').updateModdleProperties(owner, process, { name: v }); })));
      parts.push(checkbox('Executable (the engine may run it)', process.isExecutable, function (v) {
        modeler.get('modeling').updateModdleProperties(owner, process, { isExecutable: v });
      }));
    }

    if (is(bo, 'bpmn:Lane')) {
      parts.push(field('Lane (role)', textInput(bo.name, function (v) { update({ name: v }); }, { list: 'role-names' }),
        'Name the lane after a role: the role sees and does the tasks in it.'));
    }

    if (is(bo, 'bpmn:UserTask') || is(bo, 'bpmn:ManualTask')) {
      var props = spiffProperties(bo);
      var set = function (name) { return function (v) { setSpiffProperty(modeler, element, name, v); renderPanel(state, element); }; };
      parts.push(el('h3', { text: 'Task' }));
      if (is(bo, 'bpmn:UserTask')) {
        parts.push(field('Form', select(formOptions(state.forms, 'schema', props.formJsonSchemaFilename), props.formJsonSchemaFilename, set('formJsonSchemaFilename')),
          'A JSON Schema file from forms/.'));
        parts.push(field('UI schema', select(formOptions(state.forms, 'ui', props.formUiSchemaFilename), props.formUiSchemaFilename, set('formUiSchemaFilename'))));
        parts.push(checkbox('No form (the task only needs "done")', String(props.formless).toLowerCase() === 'true', function (v) {
          setSpiffProperty(modeler, element, 'formless', v ? 'true' : '');
          renderPanel(state, element);
        }));
      }
      parts.push(field('Due in (dueIn)', textInput(props.dueIn, set('dueIn'), { list: 'timer-examples', placeholder: 'e.g. P3D or school_days(5)' }),
        'Counted from when the task becomes ready: P3D, PT4H, school_days(5), end_of_half_term(), weeks(6).'));
      parts.push(field('Assign to the user named in (assignTo)', textInput(props.assignTo, set('assignTo'), { placeholder: 'a process data key, e.g. parent_username' })));
      parts.push(field('What to do (documentation)', textArea(((bo.documentation || [])[0] || {}).text, function (v) { setDocumentation(modeler, element, v); }, 3)));
    }

    if (is(bo, 'bpmn:ScriptTask')) {
      parts.push(field('Script (Python, sandboxed)', textArea(bo.script, function (v) { update({ script: v }); }, 6)));
    }

    var timer = timerOf(bo);
    if (timer) {
      parts.push(el('h3', { text: 'Timer' }));
      var kindSelect = select(TIMER_KINDS, timer.kind, function (v) { setTimer(modeler, element, v, (timerOf(element.businessObject) || timer).expression); });
      parts.push(field('Kind', kindSelect));
      parts.push(field('When', textInput(timer.expression, function (v) { setTimer(modeler, element, (timerOf(element.businessObject) || timer).kind, v); },
        { list: 'timer-examples', 'data-prop': 'timer' }),
        'ISO 8601 (P7D, R3/P1W, 2027-01-15T09:00:00Z) or a calendar helper: end_of_half_term(), end_of_term(), school_days(5), weeks(6).'));
    }
    if (is(bo, 'bpmn:BoundaryEvent')) {
      parts.push(checkbox('Interrupting (stops the task it is on)', bo.cancelActivity !== false, function (v) { update({ cancelActivity: v }); }));
    }

    var signal = signalDefinition(bo);
    if (signal) {
      parts.push(field('Signal name', textInput(signal.signalRef ? signal.signalRef.name : '', function (v) { setSignal(modeler, element, v); }),
        'Throwing and catching events with the same signal name are connected.'));
    }

    if (is(bo, 'bpmn:SequenceFlow')) {
      var source = bo.sourceRef;
      if (is(source, 'bpmn:ExclusiveGateway') || is(source, 'bpmn:InclusiveGateway')) {
        var gateway = modeler.get('elementRegistry').get(source.id);
        var isDefault = source.default === bo;
        parts.push(el('h3', { text: 'Condition' }));
        parts.push(checkbox('Default flow (taken when no condition is true)', isDefault, function (v) {
          modeler.get('modeling').updateProperties(gateway, { 'default': v ? bo : undefined });
          if (v) { setCondition(modeler, element, ''); }
          renderPanel(state, element);
        }));
        if (!isDefault) {
          parts.push(field('Condition (Python expression on process data)',
            textArea(bo.conditionExpression ? bo.conditionExpression.body : '', function (v) { setCondition(modeler, element, v); }, 2),
            'e.g. decision == "accept". When several are true, the first by diagram position wins.'));
        }
      }
    }

    if (is(bo, 'bpmn:ExclusiveGateway')) {
      var outgoing = (bo.outgoing || []);
      parts.push(field('Default flow', select([['', '(none)']].concat(outgoing.map(function (f) {
        return [f.id, (f.name || f.id) + ' → ' + ((f.targetRef && (f.targetRef.name || f.targetRef.id)) || '?')];
      })), bo.default ? bo.default.id : '', function (v) {
        update({ 'default': outgoing.filter(function (f) { return f.id === v; })[0] || undefined });
      }), 'Select a flow leaving the gateway to edit its condition.'));
    }

    if (is(bo, 'bpmn:Activity') || is(bo, 'bpmn:Event')) {
      var others = spiffProperties(bo);
      var names = Object.keys(others).filter(function (n) { return KNOWN_PROPERTIES.indexOf(n) === -1; });
      var rows = names.map(function (name) {
        return field(name, textInput(others[name], function (v) { setSpiffProperty(modeler, element, name, v); renderPanel(state, element); }));
      });
      var addName = el('input', { type: 'text', placeholder: 'name', 'aria-label': 'New property name' });
      var addValue = el('input', { type: 'text', placeholder: 'value', 'aria-label': 'New property value' });
      var add = el('button', { type: 'button', 'class': 'secondary small', text: 'Add property' });
      add.addEventListener('click', function () {
        if (addName.value.trim()) { setSpiffProperty(modeler, element, addName.value.trim(), addValue.value); renderPanel(state, element); }
      });
      parts.push(el('details', names.length ? { open: 'open' } : {}, [el('summary', { text: 'Other properties (' + names.length + ')' })]
        .concat(rows).concat([el('div', { 'class': 'prop-add' }, [addName, addValue, add])])));
    }

    parts.forEach(function (p) { form.appendChild(p); });
  }

  // -- talking to the server --------------------------------------------------------------------

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }

  function call(method, url, body) {
    return fetch(url, {
      method: method, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf(), 'Accept': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function findElement(modeler, id) {
    var registry = modeler.get('elementRegistry');
    var found = id ? registry.get(id) : null;
    if (!found && id) {
      found = registry.filter(function (e) { return e.businessObject && e.businessObject.processRef && e.businessObject.processRef.id === id; })[0];
    }
    return found || null;
  }

  function flowTowards(modeler, gatewayId, message) {
    var match = /towards '([^']+)'/.exec(message || '');
    if (!match) { return null; }
    return modeler.get('elementRegistry').filter(function (e) {
      var bo = e.businessObject;
      return is(bo, 'bpmn:SequenceFlow') && bo.sourceRef && bo.sourceRef.id === gatewayId && bo.targetRef && bo.targetRef.id === match[1];
    })[0] || null;
  }

  function showProblems(state, problems, okText) {
    var canvas = state.modeler.get('canvas');
    state.marked.forEach(function (id) { canvas.removeMarker(id, 'apflow-problem'); });
    state.marked = [];
    var section = document.getElementById('problems');
    var list = document.getElementById('problems-list');
    var summary = document.getElementById('problems-summary');
    list.innerHTML = '';
    section.hidden = false;
    // Warnings (severity "warning") do not stop a deploy: say so, and count them apart from the errors.
    var errors = problems.filter(function (p) { return p.severity !== 'warning'; }).length;
    var warnings = problems.length - errors;
    section.classList.toggle('has-problems', errors > 0);
    summary.textContent = errors ? errors + ' problem(s) must be fixed before this can be deployed' +
      (warnings ? ', and ' + warnings + ' warning(s) are worth a look' : '') + '. Select one to find it in the diagram.'
      : warnings ? warnings + ' warning(s): the diagram can be deployed as it is, but read them. Select one to find it in the diagram.'
      : (okText || 'No problems: the diagram passes every check.');
    problems.forEach(function (problem) {
      var target = findElement(state.modeler, problem.element);
      var flow = target ? flowTowards(state.modeler, problem.element, problem.message) : null;
      [target, flow].forEach(function (t) {
        if (t && state.marked.indexOf(t.id) === -1) { canvas.addMarker(t.id, 'apflow-problem'); state.marked.push(t.id); }
      });
      var text = (problem.severity === 'warning' ? 'Warning: ' : '') + (problem.element ? problem.element + ': ' : '') +
        problem.message + ' Fix: ' + problem.fix;
      var item;
      if (target) {
        item = el('button', { type: 'button', 'class': 'link-like', 'data-element': (flow || target).id, text: text });
        item.addEventListener('click', function () { focusElement(state, (flow || target).id); });
      } else {
        item = el('span', { text: (problem.file ? problem.file + ': ' : '') + text });
      }
      list.appendChild(el('li', {}, [item]));
    });
    document.getElementById('problems-heading').focus();
  }

  function focusElement(state, id) {
    var target = findElement(state.modeler, id);
    if (!target) { return; }
    state.modeler.get('selection').select(target);
    var canvas = state.modeler.get('canvas');
    if (typeof canvas.scrollToElement === 'function') { canvas.scrollToElement(target); }
  }

  function setStatus(text) {
    document.getElementById('draft-state').textContent = text;
  }

  function currentXml(state) {
    return state.modeler.saveXML({ format: true }).then(function (result) { return result.xml; });
  }

  function save(state) {
    return currentXml(state).then(function (xml) {
      return call('PUT', state.api + '/draft', { xml: xml, revision: state.revision }).then(function (res) {
        var conflict = document.getElementById('save-conflict');
        if (res.status === 409) {
          document.getElementById('save-conflict-message').textContent = res.data.error.message;
          conflict.hidden = false;
          state.conflictXml = xml;
          conflict.focus();
          return false;
        }
        conflict.hidden = true;
        if (res.status !== 200) {
          showProblems(state, (res.data.error && res.data.error.details && res.data.error.details.problems) ||
            [{ element: null, message: (res.data.error || {}).message || 'The draft could not be saved.', fix: 'Check the diagram and try again.' }]);
          return false;
        }
        state.revision = res.data.revision;
        state.dirty = false;
        setStatus('Saved draft revision ' + res.data.revision + '. It is not live until you deploy it.');
        showProblems(state, res.data.problems || [], 'Saved. No problems: the diagram passes every check.');
        return true;
      });
    });
  }

  function validate(state) {
    return currentXml(state).then(function (xml) {
      return call('POST', state.api + '/draft/validate', { xml: xml }).then(function (res) {
        if (res.status !== 200) {
          showProblems(state, (res.data.error && res.data.error.details && res.data.error.details.problems) || []);
          return false;
        }
        showProblems(state, res.data.problems);
        return res.data.ok;
      });
    });
  }

  function deploy(state) {
    var note = document.getElementById('deploy-note');
    var result = document.getElementById('deploy-result');
    if (!note.value.trim()) {
      result.textContent = 'Write a change note first: it says why for everyone who reads the versions.';
      result.className = 'field-error';
      note.focus();
      return Promise.resolve(false);
    }
    var saved = state.dirty || state.revision === 0 ? save(state) : Promise.resolve(true);
    return saved.then(function (ok) {
      if (!ok) { result.textContent = 'Not deployed: the draft could not be saved.'; result.className = 'field-error'; return false; }
      return call('POST', state.api + '/deploy', { revision: state.revision, note: note.value }).then(function (res) {
        if (res.status === 200 || res.status === 201) {
          result.className = 'deploy-ok';
          result.innerHTML = '';
          result.appendChild(document.createTextNode(res.data.message + ' '));
          result.appendChild(el('a', { href: state.migrate, text: 'Move running instances' }));
          setStatus('Draft revision ' + state.revision + ' is live as version ' + res.data.version + '.');
          if (res.data.warnings && res.data.warnings.length) { showProblems(state, res.data.warnings); }
          return true;
        }
        result.className = 'field-error';
        result.textContent = (res.data.error || {}).message || 'Not deployed.';
        if (res.data.error && res.data.error.details && res.data.error.details.problems) { showProblems(state, res.data.error.details.problems); }
        return false;
      });
    });
  }

  function downloadText(filename, text) {
    var link = el('a', { href: URL.createObjectURL(new Blob([text], { type: 'application/xml' })), download: filename });
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function attach(state, page) {
    var modeler = state.modeler;
    modeler.on('selection.changed', function (event) { renderPanel(state, event.newSelection[0]); });
    modeler.on('element.changed', function (event) {
      var selected = modeler.get('selection').get();
      var current = selected.length === 1 ? (selected[0].labelTarget || selected[0]) : null;
      if (current && current === event.element && !state.panel.contains(document.activeElement)) { renderPanel(state, current); }
    });
    modeler.on('commandStack.changed', function (event) {
      if (event.trigger === 'clear') { return; }
      if (!state.dirty) { state.dirty = true; setStatus('Unsaved changes (draft revision ' + state.revision + ').'); }
    });
  }

  // What bpmn-js could not read is not in what it saves: say so before anyone saves.
  function showImportWarnings(warnings) {
    var box = document.getElementById('import-warnings');
    if (!box) { return; }
    box.hidden = !warnings.length;
    box.textContent = warnings.length ? 'The editor could not read ' + warnings.length + ' part(s) of this file, and saving here would leave them out: ' +
      warnings.map(function (w) { return String(w.message || '').split('\n')[0]; }).join('; ') +
      '. Change those parts in the tool that made the file, or upload it again once they are fixed.' : '';
  }

  function start(page) {
    var state = {
      api: page.dataset.api, revision: parseInt(page.dataset.revision, 10) || 0, migrate: page.dataset.migrate,
      sourceFile: page.dataset.sourceFile, dirty: false, marked: [], importWarnings: [],
      forms: JSON.parse(document.getElementById('form-files').textContent || '[]'),
      panel: document.getElementById('properties'),
      modeler: null
    };
    window.apflowEditor = state;
    document.getElementById('save-draft').addEventListener('click', function () { save(state); });
    document.getElementById('validate').addEventListener('click', function () { validate(state); });
    document.getElementById('deploy').addEventListener('click', function () { deploy(state); });
    document.getElementById('download').addEventListener('click', function () {
      currentXml(state).then(function (xml) { downloadText(state.sourceFile, xml); });
    });
    document.getElementById('conflict-download').addEventListener('click', function () { downloadText(state.sourceFile, state.conflictXml || ''); });
    document.getElementById('conflict-reload').setAttribute('href', window.location.pathname);
    window.addEventListener('beforeunload', function (event) { if (state.dirty) { event.preventDefault(); event.returnValue = ''; } });
    var urls = JSON.parse((document.getElementById('moddle-descriptors') || {}).textContent || '{}');
    state.ready = Promise.all([loadDescriptors(urls), call('GET', state.api + '/draft')]).then(function (loaded) {
      var res = loaded[1];
      state.revision = res.data.revision;
      // The modeler is made for this diagram: which extension descriptors it reads depends on its namespaces.
      return openDiagram(document.getElementById('canvas'), true, res.data.xml);
    }).then(function (opened) {
      state.modeler = opened.modeler;
      attach(state, page);
      return opened.warnings;
    }).then(function (warnings) {
      state.importWarnings = warnings;
      showImportWarnings(warnings);
      state.modeler.get('canvas').zoom('fit-viewport');
      renderPanel(state, null);
      page.dataset.loaded = 'true';
    }).catch(function (err) {
      setStatus('The diagram could not be opened: ' + err.message);
    });
  }

  window.apflowModeler = {
    createModeler: createModeler, spiffProperties: spiffProperties, setSpiffProperty: setSpiffProperty,
    setTimer: setTimer, setCondition: setCondition, timerOf: timerOf, importDiagram: importDiagram, openDiagram: openDiagram,
    loadDescriptors: loadDescriptors, descriptors: descriptors
  };

  document.addEventListener('DOMContentLoaded', function () {
    var page = document.getElementById('modeler-page');
    if (page) { start(page); }
  });
}());
