/* The comparison page: both diagrams in bpmn-js viewers, elements marked as added, removed, changed or moved. */
(function () {
  'use strict';

  function show(container, xml, marks) {
    var viewer = new window.BpmnJS({ container: container });
    return viewer.importXML(xml).then(function () {
      var canvas = viewer.get('canvas');
      var registry = viewer.get('elementRegistry');
      Object.keys(marks).forEach(function (marker) {
        marks[marker].forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, marker); }
        });
      });
      canvas.zoom('fit-viewport');
      container.dataset.loaded = 'true';
      return viewer;
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var data = JSON.parse(document.getElementById('diff-data').textContent);
    show(document.getElementById('diff-before'), data.before, { 'diff-removed': data.removed, 'diff-changed': data.changed });
    show(document.getElementById('diff-after'), data.after, { 'diff-added': data.added, 'diff-changed': data.changed, 'diff-moved': data.moved });
  });
}());
