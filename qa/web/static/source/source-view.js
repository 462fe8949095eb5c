// Vraagbaak source view ("Open bron"): a citation shown in its original document, as an
// accessible dialog inside the chat, widget or LTI page, or as its own page (/bron/view).
// A PDF page is an image rendered by the server with the quote's character boxes laid over it
// (positions in page points, scaled to the image as percentages); other documents are a
// reading view with the quote marked. Everything from the corpus is inserted with
// textContent, never as HTML. The dialog closes with Escape and gives focus back to the
// element that opened it.
(function () {
  "use strict";
  var ZOOM_STEP = 0.25, MIN_ZOOM = 0.5;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function query(params) {
    var out = new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      if (params[k] !== undefined && params[k] !== null && params[k] !== "") out.set(k, params[k]);
    });
    return out.toString();
  }

  function fail(root, text) {
    root.textContent = "";
    root.appendChild(el("h2", "vbs-title", "Bron kan niet worden getoond"));
    var p = el("p", "vbs-error", text);
    p.setAttribute("role", "alert");
    root.appendChild(p);
    root.setAttribute("aria-busy", "false");
  }

  // Load /bron/data for `params` ({c, id, q, page, t, from}) and draw it into `root`.
  // options: lti (signed LTI session for the header), heading ("h1" or "h2"), onReady(root).
  function show(root, params, options) {
    options = options || {};
    root.setAttribute("aria-busy", "true");
    var headers = {};
    if (options.lti) headers["X-Vraagbaak-LTI"] = options.lti;
    fetch("/bron/data?" + query(params), {credentials: "omit", headers: headers}).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (data) {
        if (!resp.ok || !data) {
          fail(root, data && typeof data.detail === "string" ? data.detail
            : "De bron kon niet worden geladen. Probeer het later opnieuw.");
          return;
        }
        if (data.grant) params.t = data.grant;
        draw(root, params, data, options);
        root.setAttribute("aria-busy", "false");
        if (options.onReady) options.onReady(root);
      });
    }).catch(function () { fail(root, "Vraagbaak is niet bereikbaar. Controleer je verbinding."); });
  }

  function header(root, params, data, options) {
    var h = el(options.heading || "h2", "vbs-title", "Bron: " + data.title);
    h.id = options.titleId || "vbs-title";
    root.appendChild(h);
    var where = [data.document];
    if (data.section) where.push(data.section);
    if (data.locator) where.push(data.locator);
    root.appendChild(el("p", "vbs-where", where.join(" · ")));
    if (data.notice) {
      var n = el("p", "vbs-notice", data.notice);
      n.setAttribute("role", "status");
      root.appendChild(n);
    }
    var quote = el("p", "vbs-quote");
    quote.appendChild(el("span", "vbs-quote-label", "Geciteerd: "));
    quote.appendChild(el("q", "", data.quote));
    root.appendChild(quote);
    var links = el("p", "vbs-links");
    if (!options.standalone) {
      var own = el("a", "vbs-newtab", "Open in nieuw tabblad");
      own.href = "/bron/view?" + query({c: params.c, id: params.id, q: params.q, t: params.t, from: params.from,
                                          page: data.kind === "pdf" ? data.page : ""});
      own.target = "_blank";
      own.rel = "noopener";
      links.appendChild(own);
    }
    if (data.download) {
      var dl = el("a", "vbs-download", "Download het origineel");
      dl.href = "/bron/file?" + query({c: params.c, id: params.id, t: params.t});
      links.appendChild(dl);
    }
    if (links.childNodes.length) root.appendChild(links);
  }

  function button(text, label, onClick) {
    var b = el("button", "vbs-btn", text);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  // A scrollable region that keyboard users can reach and scroll (Tab, arrow keys).
  function scrollRegion(cls, label) {
    var node = el("div", cls);
    node.tabIndex = 0;
    node.setAttribute("role", "region");
    node.setAttribute("aria-label", label);
    return node;
  }

  function drawPdf(root, params, data, options) {
    var zoom = Math.min(options.zoom || 1, data.max_zoom || 1);
    var bar = el("div", "vbs-toolbar");
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", "Pagina en vergroting");
    var prev = button("‹ Vorige", "Vorige pagina", function () { go(data.page - 1); });
    var next = button("Volgende ›", "Volgende pagina", function () { go(data.page + 1); });
    prev.disabled = data.page <= 1;
    next.disabled = data.page >= data.pages;
    var status = el("span", "vbs-pageno", "Pagina " + data.page + " van " + data.pages);
    status.setAttribute("aria-live", "polite");
    var out = button("−", "Verkleinen", function () { setZoom(zoom - ZOOM_STEP); });
    var inn = button("+", "Vergroten", function () { setZoom(zoom + ZOOM_STEP); });
    var pct = el("span", "vbs-zoom", Math.round(zoom * 100) + "%");
    [prev, status, next, out, pct, inn].forEach(function (n) { bar.appendChild(n); });
    root.appendChild(bar);
    if (data.highlight_pages && data.highlight_pages.length > 1) {
      root.appendChild(el("p", "vbs-hint", "Het citaat loopt door op pagina " + data.highlight_pages.join(" en ") + "."));
    }
    var scroller = scrollRegion("vbs-scroll", "Pagina " + data.page);
    var sheet = el("div", "vbs-page");
    var img = el("img", "vbs-img");
    img.alt = "Pagina " + data.page + " van " + data.title + (data.boxes.length ? ", met het citaat gemarkeerd" : "");
    sheet.appendChild(img);
    data.boxes.forEach(function (b) {
      var box = el("div", "vbs-box");
      box.setAttribute("aria-hidden", "true");
      box.style.left = (100 * b.x / data.width) + "%";
      box.style.top = (100 * b.y / data.height) + "%";
      box.style.width = (100 * b.w / data.width) + "%";
      box.style.height = (100 * b.h / data.height) + "%";
      sheet.appendChild(box);
    });
    scroller.appendChild(sheet);
    root.appendChild(scroller);

    function place() {
      sheet.style.width = Math.round(data.width * 1.5 * zoom) + "px";
      img.src = "/bron/page?" + query({c: params.c, id: params.id, t: params.t, page: data.page, zoom: zoom});
    }
    img.addEventListener("load", function () {
      var first = sheet.querySelector(".vbs-box");
      if (first) reveal(first, scroller);
    });
    function setZoom(z) {
      var top = data.max_zoom || 3;
      zoom = Math.min(top, Math.max(MIN_ZOOM, Math.round(z * 100) / 100));
      options.zoom = zoom;
      pct.textContent = Math.round(zoom * 100) + "%";
      out.disabled = zoom <= MIN_ZOOM;
      inn.disabled = zoom >= top;
      place();
    }
    function go(page) {
      params.page = page;
      options.focus = page < data.page ? "prev" : "next";
      show(root, params, options);
    }
    setZoom(zoom);
    if (options.focus) {
      var target = options.focus === "prev" && !prev.disabled ? prev : (!next.disabled ? next : prev);
      options.focus = null;
      target.focus();
    }
  }

  // Scroll `node` into the middle of `scroller` (or of the window when it does not scroll),
  // without moving the dialog around it.
  function reveal(node, scroller) {
    if (scroller.scrollHeight > scroller.clientHeight + 1 || scroller.scrollWidth > scroller.clientWidth + 1) {
      var n = node.getBoundingClientRect(), s = scroller.getBoundingClientRect();
      scroller.scrollTop += n.top - s.top - (scroller.clientHeight - n.height) / 2;
      scroller.scrollLeft += n.left - s.left - Math.max(0, (scroller.clientWidth - n.width) / 2);
    } else if (node.scrollIntoView) {
      node.scrollIntoView({block: "center", inline: "nearest"});
    }
  }

  var BULLET = /^[\u2022\u00b7\u25aa\u2013*-] /;

  // Text with the [start, end) `mark` in a <mark>; returns the mark (or null).
  function fill(node, text, mark) {
    if (!mark || mark[1] <= 0 || mark[0] >= text.length) { node.appendChild(document.createTextNode(text)); return null; }
    var a = Math.max(0, mark[0]), b = Math.min(text.length, mark[1]);
    node.appendChild(document.createTextNode(text.slice(0, a)));
    var m = el("mark", "vbs-mark", text.slice(a, b));
    node.appendChild(m);
    node.appendChild(document.createTextNode(text.slice(b)));
    return m;
  }

  // The reading view: headings, paragraphs, lists (a "• " item of a loader without kinds too)
  // and tables ("| a | b |" rows) as structure.
  function drawText(root, data) {
    var article = el("article", "vbs-reading");
    var list = null, table = null, first = null;
    data.items.forEach(function (item) {
      var kind = item.kind, text = item.text || "", mark = item.mark, found = null;
      if ((kind === "paragraph" || kind === "list_item") && BULLET.test(text)) {
        kind = "list_item";
        mark = mark && [mark[0] - 2, mark[1] - 2];
        text = text.slice(2);
      }
      var row = /^\|.*\|$/.test(text) && (kind === "paragraph" || kind === "table_row");
      if (kind !== "list_item") list = null;
      if (!row) table = null;
      if (kind === "heading") {
        found = fill(article.appendChild(el("h3", "vbs-h")), text, mark);
      } else if (kind === "list_item") {
        if (!list) list = article.appendChild(el("ul", "vbs-ul"));
        found = fill(list.appendChild(el("li", "vbs-li")), text, mark);
      } else if (row) {
        if (!table) table = article.appendChild(el("table", "vbs-table")).appendChild(el("tbody"));
        var tr = table.appendChild(el("tr"));
        text.slice(1, -1).split("|").forEach(function (cell) {
          var td = tr.appendChild(el("td"));
          var m = fill(td, cell.trim(), mark ? [0, cell.length] : null);
          found = found || m;
        });
      } else {
        found = fill(article.appendChild(el("p", kind === "table_row" ? "vbs-row" : "vbs-p")), text, mark);
      }
      if (found && !first) first = found;
    });
    var scroller = scrollRegion("vbs-scroll vbs-scroll-text", "Document");
    scroller.appendChild(article);
    root.appendChild(scroller);
    if (first) reveal(first, scroller);
  }

  function draw(root, params, data, options) {
    root.textContent = "";
    header(root, params, data, options);
    if (data.kind === "pdf") drawPdf(root, params, data, options);
    else drawText(root, data);
  }

  // ------------------------------------------------------------------ the dialog

  var dialog = null, body = null, opener = null;

  function ensureDialog() {
    if (dialog) return;
    dialog = el("dialog", "vbs-dialog");
    dialog.setAttribute("aria-labelledby", "vbs-dlg-title");
    var close = button("Sluiten", "Bron sluiten", function () { dialog.close(); });
    close.classList.add("vbs-close");
    body = el("div", "vbs-view");
    dialog.appendChild(close);
    dialog.appendChild(body);
    dialog.addEventListener("close", function () {
      body.textContent = "";
      if (opener && opener.focus) opener.focus();
      opener = null;
    });
    document.body.appendChild(dialog);
  }

  function paramsOf(href) {
    var url = new URL(href, window.location.href);
    var p = {};
    url.searchParams.forEach(function (v, k) { p[k] = v; });
    return p;
  }

  // Open the view of `href` (a /bron/view URL) in the dialog; focus goes back to `from`.
  function open(href, from, lti) {
    ensureDialog();
    opener = from || document.activeElement;
    body.textContent = "";
    body.appendChild(el("h2", "vbs-title", "Bron wordt geladen…")).id = "vbs-dlg-title";
    if (!dialog.open) dialog.showModal();
    show(body, paramsOf(href), {lti: lti, titleId: "vbs-dlg-title", heading: "h2"});
  }

  // The "Open bron" link of a citation `c` (answer JSON). options: collection, surface
  // ("widget"), lti (signed session: the dialog sends it as a header).
  function link(c, options) {
    options = options || {};
    var text = c.text || "", quote = c.quote || "", at = quote ? text.indexOf(quote) : -1;
    // offsets in code points, as the server counts them (not UTF-16 units)
    var start = at >= 0 ? Array.from(text.slice(0, at)).length : -1;
    var a = el("a", "vbs-open", "Open bron");
    a.href = "/bron/view?" + query({c: options.collection || "", id: c.passage_id,
                                     q: start >= 0 ? start + "-" + (start + Array.from(quote).length) : "",
                                     from: options.surface});
    a.setAttribute("data-vbs-open", "1");
    if (options.lti) a.setAttribute("data-vbs-lti", "1");
    a.setAttribute("aria-label", "Open bron [" + c.n + "] in het document");
    a.addEventListener("click", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button === 1) return;
      ev.preventDefault();
      open(a.href, a, options.lti);
    });
    return a;
  }

  // Links made by the server (the Gradio chat's sources panel): one listener for all.
  document.addEventListener("click", function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest("a[data-vbs-open]") : null;
    if (!a || a.getAttribute("data-vbs-lti") || ev.defaultPrevented) return;
    if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button === 1) return;
    ev.preventDefault();
    open(a.href, a);
  });

  function standalone() {
    var root = document.getElementById("vbs-root");
    if (!root || !root.getAttribute("data-vbs-standalone")) return;
    var p = paramsOf(window.location.href);
    show(root, p, {heading: "h1", standalone: true, titleId: "vbs-title", zoom: 1, onReady: function () {
      var h = document.getElementById("vbs-title");
      if (h) document.title = h.textContent + " – Vraagbaak";
    }});
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", standalone);
  else standalone();

  window.VraagbaakSource = {open: open, link: link, show: show};
})();
