// Vraagbaak LTI course chat (qa/web/lti_pages.py): the shared compact chat (static/widget/
// chat-core.js, loaded first) sending questions to /lti/ask (always the course's own collection,
// from the signed session), with 👍/👎 feedback under each answer (chat-core's rating, to
// /lti/feedback). Every piece of user or corpus text is inserted with textContent, never as HTML.
// The signed LTI session comes from the URL fragment (lti-boot.js checks it and then starts
// this chat) and is kept in memory only; it is sent in a header, so nothing needs cookies (LMS
// iframes usually block third-party cookies).
document.addEventListener("vb-lti-ready", function () {
  "use strict";
  var V = window.VraagbaakChat;
  var meta = document.querySelector('meta[name="vb-lti"]');
  var session = meta ? meta.getAttribute("content") : "";

  function send(body) {
    return fetch("/lti/feedback", {
      method: "POST", credentials: "omit",
      headers: {"Content-Type": "application/json", "X-Vraagbaak-LTI": session},
      body: JSON.stringify(body)
    });
  }

  V.start({url: "/lti/ask", header: "X-Vraagbaak-LTI", session: session,
           afterAnswer: function (div, data) { V.rating(div, data, send); },
           source: {lti: session}});
});
