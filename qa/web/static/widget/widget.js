// Vraagbaak loader for host pages (LMS). Usage:
//   <script src="https://host/widget.js" data-title="…" data-welcome="…" data-color="#1d4ed8"
//           data-position="right" data-collection="…" defer></script>   (data-collection optional)
// Adds one element (#vraagbaak-widget-host) with a Shadow DOM holding a floating button and,
// once opened, an iframe to https://host/widget. Touches nothing else on the page; styles are
// set through the DOM (no <style> element, so a strict host CSP on inline styles is no problem).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src || document.getElementById("vraagbaak-widget-host")) return;
  var d = script.dataset || {};
  var clean = function (s, n) { return String(s || "").replace(/[\u0000-\u001f\u007f]/g, " ").trim().slice(0, n); };
  var title = clean(d.title, 60) || "Vraagbaak";
  var welcome = clean(d.welcome, 300);
  var color = /^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(d.color || "") ? d.color : "#1d4ed8";
  var side = d.position === "left" ? "left" : "right";
  var url = new URL("widget", new URL(".", script.src));
  url.searchParams.set("title", title);
  url.searchParams.set("color", color);
  if (welcome) url.searchParams.set("welcome", welcome);
  var collection = clean(d.collection, 100);
  if (collection) url.searchParams.set("collection", collection);

  function style(node, props) { for (var k in props) node.style.setProperty(k, props[k]); }

  function start() {
    var host = document.createElement("div");
    host.id = "vraagbaak-widget-host";
    var root = host.attachShadow ? host.attachShadow({mode: "open"}) : host;
    style(host, {"position": "fixed", "bottom": "0", "z-index": "2147483000"});
    style(host, side === "left" ? {"left": "0"} : {"right": "0"});

    var button = document.createElement("button");
    button.type = "button";
    button.className = "vbw-bubble";
    button.textContent = "💬";
    button.setAttribute("aria-label", "Open " + title);
    button.setAttribute("aria-expanded", "false");
    button.title = title;
    style(button, {"position": "fixed", "bottom": "20px", "width": "56px", "height": "56px",
      "border-radius": "50%", "border": "0", "background": color, "color": "#fff", "font-size": "26px",
      "line-height": "56px", "padding": "0", "cursor": "pointer", "box-shadow": "0 4px 14px rgba(0,0,0,.3)"});
    style(button, side === "left" ? {"left": "20px"} : {"right": "20px"});

    var frame = null;
    function toggle() {
      if (!frame) {
        frame = document.createElement("iframe");
        frame.className = "vbw-frame";
        frame.title = title;
        frame.src = url.toString();
        frame.setAttribute("referrerpolicy", "strict-origin");
        style(frame, {"position": "fixed", "bottom": "88px", "width": "min(380px, calc(100vw - 32px))",
          "height": "min(560px, calc(100vh - 110px))", "border": "0", "border-radius": "12px",
          "background": "#fff", "box-shadow": "0 8px 30px rgba(0,0,0,.3)", "display": "none"});
        style(frame, side === "left" ? {"left": "16px"} : {"right": "16px"});
        root.appendChild(frame);
      }
      var open = frame.style.display === "none";
      frame.style.display = open ? "block" : "none";
      button.textContent = open ? "✕" : "💬";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.setAttribute("aria-label", (open ? "Sluit " : "Open ") + title);
    }
    button.addEventListener("click", toggle);
    root.appendChild(button);
    document.body.appendChild(host);
  }

  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
