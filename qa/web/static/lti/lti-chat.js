// Vraagbaak LTI course chat (qa/web/lti_pages.py): the shared compact chat (static/widget/
// chat-core.js, loaded first) sending questions to /lti/ask (always the course's own collection,
// from the signed session), with 👍/👎 feedback buttons under each answer (/lti/feedback).
// Every piece of user or corpus text is inserted with textContent, never as HTML.
// The signed LTI session comes from the URL fragment (lti-boot.js checks it and then starts
// this chat) and is kept in memory only; it is sent in a header, so nothing needs cookies (LMS
// iframes usually block third-party cookies).
document.addEventListener("vb-lti-ready", function () {
  "use strict";
  var V = window.VraagbaakChat;
  var meta = document.querySelector('meta[name="vb-lti"]');
  var session = meta ? meta.getAttribute("content") : "";

  function addRating(div, data) {
    // only what the feedback stores (the full answer holds document metadata such as "url",
    // which the server refuses in a request body as a possible file reference)
    var rated = {question: data.question, answer: data.answer, abstained: !!data.abstained,
                 citations: (data.citations || []).map(function (c) { return {passage_id: c.passage_id}; })};
    var row = V.el("div", "vbw-rate");
    var status = V.el("span", "vbw-rate-msg", "");
    var comment = V.el("input", "vbw-comment");
    comment.type = "text";
    comment.maxLength = 2000;
    comment.placeholder = "Opmerking (optioneel)";
    comment.setAttribute("aria-label", "Opmerking bij je beoordeling");
    [["up", "👍", "Goed antwoord"], ["down", "👎", "Slecht antwoord"]].forEach(function (r) {
      var b = V.el("button", "vbw-" + r[0], r[1]);
      b.type = "button";
      b.title = r[2];
      b.setAttribute("aria-label", r[2]);
      b.setAttribute("aria-pressed", "false");
      b.addEventListener("click", function () {
        row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        b.setAttribute("aria-pressed", "true");
        fetch("/lti/feedback", {
          method: "POST", credentials: "omit",
          headers: {"Content-Type": "application/json", "X-Vraagbaak-LTI": session},
          body: JSON.stringify({rating: r[0], comment: comment.value, answer: rated})
        }).then(function (resp) {
          status.textContent = resp.ok ? "Bedankt voor je feedback." : "Feedback kon niet worden opgeslagen.";
        }).catch(function () { status.textContent = "Feedback kon niet worden opgeslagen."; });
      });
      row.appendChild(b);
    });
    row.appendChild(comment);
    row.appendChild(status);
    div.appendChild(row);
  }

  V.start({url: "/lti/ask", header: "X-Vraagbaak-LTI", session: session, afterAnswer: addRating});
});
