// Vraagbaak compact chat, shared by the widget page (widget-app.js) and the LTI course page
// (static/lti/lti-chat.js): the question form, the conversation log, answers with their sources
// and errors. Every piece of user or corpus text is inserted with textContent, never as HTML.
// Each page starts it with what differs: where questions go, the header carrying the page's
// signed session (kept in memory only, so nothing needs cookies), extra body fields, and what
// to add under an answer.
(function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function where(c) {
    var parts = [c.document];
    if (c.section) parts.push(c.section);
    if (c.locator) parts.push(c.locator);
    return parts.join(" · ");
  }

  function label(data) {
    if (data.abstain_reason === "instruction") return "ℹ️ Geen opdrachten";
    if (data.abstain_reason === "missing_detail") return "ℹ️ Staat niet in de bronnen";
    return "ℹ️ Geen antwoord gevonden";
  }

  // An answer with its sources; an abstention as a notice (with the sources it cites, if any:
  // "missing_detail" says what the sources do cover).
  function showAnswer(div, data) {
    div.textContent = "";
    div.className = "vbw-msg vbw-bot";
    if (data.abstained) {
      div.classList.add("vbw-abstain");
      div.setAttribute("data-abstained", "true");
      div.appendChild(el("span", "vbw-label", label(data)));
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
      addSourceButton(li, c);
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

  // "Open bron": the citation in its original document (static/source/source-view.js, when
  // the page loads it), opened as a dialog; `sourceOptions` come from start(options.source).
  var sourceOptions = null;
  function addSourceButton(li, c) {
    if (!sourceOptions || !window.VraagbaakSource || !c.passage_id) return;
    li.appendChild(window.VraagbaakSource.link(c, sourceOptions));
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

  // options: url (where questions are POSTed), header (name of the session header), session,
  // body (extra JSON fields, optional), afterAnswer(div, data) (optional).
  function start(options) {
    var maxChars = parseInt(document.body.getAttribute("data-max-chars"), 10) || 2000;
    sourceOptions = options.source || null;
    var history = [];
    var log = document.getElementById("vbw-log");
    var form = document.getElementById("vbw-form");
    var box = document.getElementById("vbw-q");
    var send = document.getElementById("vbw-send");

    function message(cls, text) {
      var div = el("div", "vbw-msg " + cls);
      div.appendChild(el("p", "", text));
      log.appendChild(div);
      log.scrollTop = log.scrollHeight;
      return div;
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
      var headers = {"Content-Type": "application/json"};
      headers[options.header] = options.session;
      var body = {question: question, history: history.slice(-20)};
      Object.keys(options.body || {}).forEach(function (k) { body[k] = options.body[k]; });
      fetch(options.url, {
        method: "POST", credentials: "omit", headers: headers, body: JSON.stringify(body)
      }).then(function (resp) {
        return resp.json().catch(function () { return null; }).then(function (data) {
          if (resp.ok && data) {
            history.push(question);
            showAnswer(pending, data);
            if (options.afterAnswer) options.afterAnswer(pending, data);
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
    form.setAttribute("data-ready", "1");   // the form is handled here now (tests wait for it)
  }

  // 👍/👎 with an optional comment under an answer (widget and LTI course page). `send(body)`
  // posts {rating, comment, answer} where the page stores feedback and returns fetch's promise.
  // Only what the feedback stores is sent: the full answer holds document metadata such as
  // "url", which the server refuses in a request body as a possible file reference.
  function rating(div, data, send) {
    var rated = {question: data.question, answer: data.answer, abstained: !!data.abstained,
                 citations: (data.citations || []).map(function (c) { return {passage_id: c.passage_id}; })};
    var row = el("div", "vbw-rate");
    var status = el("span", "vbw-rate-msg", "");
    var comment = el("input", "vbw-comment");
    comment.type = "text";
    comment.maxLength = 2000;
    comment.placeholder = "Opmerking (optioneel)";
    comment.setAttribute("aria-label", "Opmerking bij je beoordeling");
    [["up", "👍", "Goed antwoord"], ["down", "👎", "Slecht antwoord"]].forEach(function (r) {
      var b = el("button", "vbw-" + r[0], r[1]);
      b.type = "button";
      b.title = r[2];
      b.setAttribute("aria-label", r[2]);
      b.setAttribute("aria-pressed", "false");
      b.addEventListener("click", function () {
        row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        b.setAttribute("aria-pressed", "true");
        send({rating: r[0], comment: comment.value, answer: rated}).then(function (resp) {
          status.textContent = resp.ok ? "Bedankt voor je feedback." : "Feedback kon niet worden opgeslagen.";
        }).catch(function () { status.textContent = "Feedback kon niet worden opgeslagen."; });
      });
      row.appendChild(b);
    });
    row.appendChild(comment);
    row.appendChild(status);
    div.appendChild(row);
  }

  window.VraagbaakChat = {el: el, start: start, rating: rating};
})();
