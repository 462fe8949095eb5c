// Vraagbaak LTI instructor panel (qa/web/lti_pages.py): the course's documents (list with
// index status and passages, upload, remove), the progress of the index build, and the
// feedback overview with CSV export. Session and CSRF token come from the page's <meta>
// tags (filled by lti-boot.js from the session in the URL fragment) and are sent in a header /
// form field: no cookies. Text goes in with textContent. Starts when lti-boot.js says the session
// is valid and belongs to an instructor.
document.addEventListener("vb-lti-ready", function (ready) {
  "use strict";
  if (!ready.detail || !ready.detail.instructor) return;
  function metaValue(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute("content") : "";
  }
  var session = metaValue("vb-lti");
  var csrf = metaValue("vb-csrf");
  var rows = document.getElementById("lti-doc-rows");
  var form = document.getElementById("lti-upload");
  var fileInput = document.getElementById("lti-file");
  var msg = document.getElementById("lti-upload-msg");
  var buildBox = document.getElementById("lti-build");
  var bar = document.getElementById("lti-progress");
  var phase = document.getElementById("lti-phase");
  var polling = null;

  function el(tag, text) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function call(method, path, body) {
    var opts = {method: method, credentials: "omit", headers: {"X-Vraagbaak-LTI": session}};
    if (body instanceof FormData) {
      opts.body = body;
    } else if (body) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (data) {
        if (!resp.ok) {
          throw new Error(data && typeof data.detail === "string" ? data.detail
                          : "Er ging iets mis (" + resp.status + ").");
        }
        return data;
      });
    });
  }

  function say(text, bad) {
    msg.textContent = text;
    msg.className = "lti-msg" + (bad ? " lti-bad" : "");
  }

  function showBuild(build) {
    if (!build) return;
    var running = build.state === "queued" || build.state === "running";
    buildBox.hidden = !running && build.state !== "failed";
    bar.value = build.progress || 0;
    buildBox.setAttribute("data-state", build.state);
    if (build.state === "failed") {
      phase.textContent = "Indexeren mislukt: " + (build.error || "onbekende fout");
    } else {
      phase.textContent = "Index wordt bijgewerkt: " + (build.phase || "bezig") + " (" +
        Math.round((build.progress || 0) * 100) + "%)";
    }
    if (running && !polling) {
      polling = setInterval(refresh, 1000);
    } else if (!running && polling) {
      clearInterval(polling);
      polling = null;
    }
  }

  function showDocuments(docs) {
    rows.textContent = "";
    if (!docs.length) {
      var tr = el("tr");
      var td = el("td", "Nog geen documenten. Upload er een hierboven.");
      td.colSpan = 4;
      tr.appendChild(td);
      rows.appendChild(tr);
      return;
    }
    docs.forEach(function (d) {
      var tr = el("tr");
      tr.setAttribute("data-name", d.name);
      tr.appendChild(el("td", d.name));
      tr.appendChild(el("td", d.status + (d.reason ? " (" + d.reason + ")" : "")));
      tr.appendChild(el("td", d.passages === null || d.passages === undefined ? "–" : d.passages));
      var cell = el("td");
      var b = el("button", "Verwijderen");
      b.type = "button";
      b.className = "lti-remove";
      b.addEventListener("click", function () {
        if (!window.confirm("'" + d.name + "' verwijderen uit de cursus?")) return;
        call("POST", "/lti/documents/remove", {name: d.name, csrf: csrf}).then(function (data) {
          say("'" + d.name + "' is verwijderd.", false);
          showBuild(data.build);
          refresh();
        }).catch(function (e) { say(e.message, true); });
      });
      cell.appendChild(b);
      tr.appendChild(cell);
      rows.appendChild(tr);
    });
  }

  function refresh() {
    return call("GET", "/lti/documents").then(function (data) {
      showDocuments(data.documents || []);
      showBuild(data.build);
    }).catch(function (e) { say(e.message, true); });
  }

  function refreshFeedback() {
    call("GET", "/lti/feedback/summary").then(function (data) {
      document.getElementById("lti-up").textContent = data.up;
      document.getElementById("lti-down").textContent = data.down;
      var list = document.getElementById("lti-comments");
      list.textContent = "";
      (data.recent || []).forEach(function (r) {
        var li = el("li", (r.rating === "up" ? "👍 " : "👎 ") + r.comment + " — bij: " + r.question);
        list.appendChild(li);
      });
    }).catch(function () {});
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!fileInput.files.length) return;
    var data = new FormData();
    data.append("csrf", csrf);
    data.append("file", fileInput.files[0]);
    say("Bezig met uploaden…", false);
    call("POST", "/lti/documents", data).then(function (res) {
      say("'" + res.name + "' is toegevoegd; de index wordt bijgewerkt.", false);
      fileInput.value = "";
      showBuild(res.build);
      refresh();
    }).catch(function (e) { say(e.message, true); });
  });

  document.getElementById("lti-csv").addEventListener("click", function () {
    window.VraagbaakLti.download("/lti/feedback.csv", "feedback.csv");
  });

  refresh();
  refreshFeedback();
});
