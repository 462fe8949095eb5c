// Vraagbaak widget page: sends questions to /api/ask through the shared compact chat
// (chat-core.js, loaded first). The session id comes from the page (server-generated) and is
// kept in memory only; it is sent in a header, so the widget needs no cookies (works with
// third-party cookies blocked). Under each answer: 👍/👎 with an optional comment (widget/feedback).
(function () {
  "use strict";
  var body = document.body;
  var color = body.getAttribute("data-color") || "";
  if (/^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(color)) {
    document.documentElement.style.setProperty("--vb-color", color);
  }
  var collection = body.getAttribute("data-collection") || "";
  var meta = document.querySelector('meta[name="vb-session"]');
  var session = meta ? meta.getAttribute("content") : "";

  // 👍/👎 under each answer (chat-core's rating), stored like the chat's feedback
  function sendRating(body) {
    if (collection) body.collection = collection;
    return fetch("widget/feedback", {
      method: "POST", credentials: "omit",
      headers: {"Content-Type": "application/json", "X-Vraagbaak-Session": session},
      body: JSON.stringify(body)
    });
  }

  window.VraagbaakChat.start({
    url: "api/ask",
    header: "X-Vraagbaak-Session",
    session: session,
    body: collection ? {collection: collection} : {},
    source: {collection: collection, surface: "widget"},
    afterAnswer: function (div, data) { window.VraagbaakChat.rating(div, data, sendRating); }
  });
})();
