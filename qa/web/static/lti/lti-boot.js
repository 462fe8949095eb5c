// Vraagbaak LTI course page (GET /lti/course, qa/web/lti_pages.py): the launch redirected here
// with the signed session in the URL fragment (#s=…), which no server ever sees and which a
// reload keeps. This script checks the session with the server (GET /lti/session, in a header:
// no cookies), fills in the course, the role and the CSRF token, shows the instructor panels
// only to instructors, and then starts the chat (lti-chat.js) and the panels ("vb-lti-ready").
// An expired or missing session shows the Dutch "open de cursus opnieuw" message instead.
(function () {
  "use strict";
  var EXPIRED = "Je sessie is verlopen. Open de cursus opnieuw vanuit je leeromgeving.";
  var token = new URLSearchParams(window.location.hash.slice(1)).get("s") || "";

  function setMeta(name, value) {
    var m = document.querySelector('meta[name="' + name + '"]');
    if (m) m.setAttribute("content", value);
  }

  function stop(text) {
    var main = document.getElementById("lti-main");
    if (main) main.remove();
    var box = document.getElementById("lti-expired");
    box.textContent = text;
    box.hidden = false;
  }

  // a CSV of the instructor panels (lti-docs.js, lti-open.js), fetched with the session header
  window.VraagbaakLti = {download: function (path, name) {
    fetch(path, {credentials: "omit", headers: {"X-Vraagbaak-LTI": token}})
      .then(function (resp) { return resp.blob(); })
      .then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = name;
        document.body.appendChild(a);
        a.click();
        a.remove();
      });
  }};

  if (!token) { stop(EXPIRED); return; }
  // The panels (lti-chat.js, lti-docs.js, lti-open.js) are deferred scripts after this one and
  // listen for "vb-lti-ready". A fast /lti/session can answer before a slow script has even
  // run, so the event waits for DOMContentLoaded, which comes after every deferred script.
  var scriptsRan = new Promise(function (resolve) {
    document.addEventListener("DOMContentLoaded", resolve, {once: true});
  });
  var session = fetch("/lti/session", {credentials: "omit", headers: {"X-Vraagbaak-LTI": token}})
    .then(function (resp) { return resp.ok ? resp.json() : null; });
  Promise.all([session, scriptsRan])
    .then(function (both) { return both[0]; })
    .then(function (info) {
      if (!info) { stop(EXPIRED); return; }
      setMeta("vb-lti", token);
      setMeta("vb-csrf", info.csrf || "");
      document.title = "Vraagbaak – " + info.course;
      document.getElementById("lti-course").textContent = info.course;
      document.querySelector(".lti-role").textContent = info.instructor ? "Docent" : "Student";
      document.body.className = info.instructor ? "lti-instructor" : "lti-learner";
      var panels = document.getElementById("lti-instructor");
      if (info.instructor) panels.hidden = false; else panels.remove();
      var empty = document.getElementById("lti-empty");
      if (info.ready || info.instructor) empty.remove(); else empty.hidden = false;
      if (info.intro) document.querySelector(".vbw-welcome p").textContent = info.intro;
      var notice = document.getElementById("lti-privacy");
      if (notice && !info.open_questions) notice.remove();
      document.getElementById("lti-main").hidden = false;
      document.dispatchEvent(new CustomEvent("vb-lti-ready", {detail: info}));
    })
    .catch(function () {
      stop("Vraagbaak is niet bereikbaar. Controleer je verbinding en laad de pagina opnieuw.");
    });
})();
