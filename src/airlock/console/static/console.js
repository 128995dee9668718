// airlock console: live countdowns and a self-refreshing waiting list. No dependencies; the
// pages work without it (it only saves reloading).
(function () {
  "use strict";

  function left(iso) {
    var ms = Date.parse(iso) - Date.now();
    if (isNaN(ms)) return null;
    if (ms <= 0) return "expired";
    var s = Math.floor(ms / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60);
    if (h > 0) return "in " + h + " h " + (m % 60) + " min";
    return "in " + m + ":" + String(s % 60).padStart(2, "0");
  }

  function tick() {
    document.querySelectorAll("time[data-expires]").forEach(function (el) {
      var text = left(el.getAttribute("data-expires"));
      if (text !== null) {
        el.textContent = text;
        el.classList.toggle("prod-text", text === "expired");
      }
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
    window.setInterval(tick, 1000);
    var box = document.getElementById("pending");
    if (box) window.setInterval(function () { refresh(box); }, 4000);
  });
})();
