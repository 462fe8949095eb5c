// Vraagbaak widget page: sends questions to /api/ask through the shared compact chat
// (chat-core.js, loaded first). The session id comes from the page (server-generated) and is
// kept in memory only; it is sent in a header, so the widget needs no cookies (works with
// third-party cookies blocked).
(function () {
  "use strict";
  var body = document.body;
  var color = body.getAttribute("data-color") || "";
  if (/^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(color)) {
    document.documentElement.style.setProperty("--vb-color", color);
  }
  var collection = body.getAttribute("data-collection") || "";
  var meta = document.querySelector('meta[name="vb-session"]');
  window.VraagbaakChat.start({
    url: "api/ask",
    header: "X-Vraagbaak-Session",
    session: meta ? meta.getAttribute("content") : "",
    body: collection ? {collection: collection} : {},
    source: {collection: collection, surface: "widget"}
  });
})();
