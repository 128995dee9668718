// airlock console: relative times kept current, and a self-refreshing waiting list. No
// dependencies; the pages work without it (the server renders the same words once).
(function () {
  "use strict";

  // The same words as airlock/console/moments.py `relative`: keep the two in step.
  function relative(ms) {
    var future = ms > 0, left = Math.abs(Math.trunc(ms / 1000));
    if (left < 45) return future ? "in under a minute" : "just now";
    var minutes = Math.floor((left + 30) / 60), span;
    if (minutes < 60) {
      span = minutes + " min";
    } else if (minutes < 24 * 60) {
      var hours = Math.floor(minutes / 60), rest = minutes % 60;
      span = rest && hours < 6 ? hours + " h " + rest + " min" : hours + " h";
    } else {
      var days = Math.round(minutes / (24 * 60));
      span = days + " day" + (days !== 1 ? "s" : "");
    }
    return future ? "in " + span : span + " ago";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-relative]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (isNaN(at)) return;
      if (!el.hasAttribute("data-local")) {  // the exact time, in the reader's own zone
        el.setAttribute("title", new Date(at).toLocaleString());
        el.setAttribute("data-local", "");
      }
      var expiry = el.closest(".expires");
      var text = expiry && at <= now ? "now (expired)" : relative(at - now);
      if (el.textContent !== text) el.textContent = text;
      if (expiry) expiry.classList.toggle("prod-text", at <= now);
    });
  }

  function refresh(box) {
    var url = box.getAttribute("data-refresh");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === box.getAttribute("data-last")) return;
        box.setAttribute("data-last", html);
        box.innerHTML = html;  // same-origin, server-rendered and escaped
        var count = document.getElementById("pending-count");
        if (count) count.textContent = box.querySelectorAll(".cards > li").length;
        tick();
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 15000);
    var box = document.getElementById("pending");
    if (box) window.setInterval(function () { refresh(box); }, 4000);
  });
})();
