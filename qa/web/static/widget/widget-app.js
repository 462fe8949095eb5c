// Vraagbaak widget page: sends questions to /api/ask and shows answers with their sources.
// Every piece of user or corpus text is inserted with textContent, never as HTML.
// The session id comes from the page (server-generated) and is kept in memory only; it is
// sent in a header, so the widget needs no cookies (works with third-party cookies blocked).
(function () {
  "use strict";
  var body = document.body;
  var color = body.getAttribute("data-color") || "";
  if (/^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(color)) {
    document.documentElement.style.setProperty("--vb-color", color);
  }
  var maxChars = parseInt(body.getAttribute("data-max-chars"), 10) || 2000;
  var collection = body.getAttribute("data-collection") || "";
  var meta = document.querySelector('meta[name="vb-session"]');
  var session = meta ? meta.getAttribute("content") : "";
  var history = [];
  var log = document.getElementById("vbw-log");
  var form = document.getElementById("vbw-form");
  var box = document.getElementById("vbw-q");
  var send = document.getElementById("vbw-send");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function message(cls, text) {
    var div = el("div", "vbw-msg " + cls);
    div.appendChild(el("p", "", text));
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  function where(c) {
    var parts = [c.document];
    if (c.section) parts.push(c.section);
    if (c.locator) parts.push(c.locator);
    return parts.join(" · ");
  }

  function showAnswer(div, data) {
    div.textContent = "";
    div.className = "vbw-msg vbw-bot";
    if (data.abstained) {
      div.classList.add("vbw-abstain");
      div.setAttribute("data-abstained", "true");
      div.appendChild(el("span", "vbw-label",
        data.abstain_reason === "instruction" ? "ℹ️ Geen opdrachten" :
        data.abstain_reason === "missing_detail" ? "ℹ️ Staat niet in de bronnen" : "ℹ️ Geen antwoord gevonden"));
    }
    div.appendChild(el("p", "vbw-text", data.answer));
    var cites = data.citations || [];
    if (!cites.length) return;
    var box = el("div", "vbw-sources");
    box.appendChild(el("p", "vbw-sources-title", "Bronnen"));
    var list = el("ol");
    cites.forEach(function (c) {
      var li = el("li", "vbw-source");
      var head = el("div");
      head.appendChild(el("span", "vbw-n", "[" + c.n + "] "));
      head.appendChild(el("span", "vbw-where", where(c)));
      li.appendChild(head);
      li.appendChild(el("blockquote", "vbw-quote", c.quote));
      if (c.text && c.text !== c.quote) {
        var det = el("details");
        det.appendChild(el("summary", "", "Hele passage"));
        det.appendChild(el("p", "", c.text));
        li.appendChild(det);
      }
      list.appendChild(li);
    });
    box.appendChild(list);
    div.appendChild(box);
  }

  function showError(div, text) {
    div.textContent = "";
    div.className = "vbw-msg vbw-bot vbw-error";
    div.appendChild(el("span", "vbw-label", "⚠️ Let op"));
    div.appendChild(el("p", "vbw-text", text));
  }

  function detailText(data, status) {
    if (data && typeof data.detail === "string") return data.detail;
    if (status === 422) return "Je vraag kon niet worden verwerkt. Is hij leeg of te lang?";
    return "Er ging iets mis bij het beantwoorden van je vraag. Probeer het later opnieuw.";
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var question = box.value.trim();
    if (!question || send.disabled) return;
    message("vbw-user", question);
    var pending = message("vbw-bot vbw-pending", "Even zoeken…");
    if (question.length > maxChars) {
      showError(pending, "Je vraag is te lang (maximaal " + maxChars + " tekens).");
      return;
    }
    box.value = "";
    send.disabled = true;
    fetch("api/ask", {
      method: "POST",
      credentials: "omit",
      headers: {"Content-Type": "application/json", "X-Vraagbaak-Session": session},
      body: JSON.stringify(collection ? {question: question, history: history.slice(-20), collection: collection}
                                      : {question: question, history: history.slice(-20)})
    }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (data) {
        if (resp.ok && data) {
          history.push(question);
          showAnswer(pending, data);
        } else {
          showError(pending, detailText(data, resp.status));
        }
      });
    }).catch(function () {
      showError(pending, "Vraagbaak is niet bereikbaar. Controleer je verbinding en probeer het opnieuw.");
    }).then(function () {
      send.disabled = false;
      log.scrollTop = log.scrollHeight;
      box.focus();
    });
  });

  box.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });
})();
