// Vraagbaak LTI instructor panel "Open vragen" (qa/web/lti_pages.py): the course's questions that
// the documents did not answer (or that got 👎), grouped by meaning (GET /lti/open-questions),
// with a CSV export. Session from lti-boot.js, sent in a header; text goes in with textContent.
document.addEventListener("vb-lti-ready", function (ready) {
  "use strict";
  if (!ready.detail || !ready.detail.instructor) return;
  var meta = document.querySelector('meta[name="vb-lti"]');
  var session = meta ? meta.getAttribute("content") : "";
  var rows = document.getElementById("lti-open-rows");

  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = String(text);
    tr.appendChild(td);
  }

  function show(groups) {
    rows.textContent = "";
    if (!groups.length) {
      var tr = document.createElement("tr");
      cell(tr, "Nog geen open vragen.");
      tr.firstChild.colSpan = 4;
      rows.appendChild(tr);
      return;
    }
    groups.forEach(function (g) {
      var tr = document.createElement("tr");
      tr.className = "lti-open-group";
      cell(tr, g.question);
      cell(tr, g.count);
      cell(tr, g.missing || "–");
      cell(tr, g.last);
      rows.appendChild(tr);
    });
  }

  fetch("/lti/open-questions", {credentials: "omit", headers: {"X-Vraagbaak-LTI": session}})
    .then(function (resp) { return resp.ok ? resp.json() : {groups: []}; })
    .then(function (data) { show(data.groups || []); })
    .catch(function () { show([]); });

  document.getElementById("lti-open-csv").addEventListener("click", function () {
    window.VraagbaakLti.download("/lti/open-questions.csv", "open-vragen.csv");
  });
});
