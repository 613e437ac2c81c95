// Progressive enhancement only: every action works without this file.
// - Copy buttons ([data-copy=<input id>]) appear and copy the secret to the clipboard.
// - Countdowns (<time data-countdown datetime=…>) tick down to their deadline.
// - Panels marked [data-focus] receive focus, so screen readers announce the new secret.
(function () {
  "use strict";

  function span(secs) {
    var d = Math.floor(secs / 86400), h = Math.floor((secs % 86400) / 3600),
        m = Math.floor((secs % 3600) / 60), s = secs % 60;
    if (d > 0) return d + (d === 1 ? " day" : " days") + (h ? " " + h + " h" : "");
    if (h > 0) return h + " h " + m + " min";
    if (m > 0) return m + " min " + s + " s";
    return s + " s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("datetime"));
      if (isNaN(end)) return;
      var left = Math.round((end - now) / 1000);
      el.textContent = left > 0 ? "in " + span(left) : "ended";
      if (left <= 0) el.classList.add("ended");
    });
  }

  function copy(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    var status = button.parentElement.querySelector(".copy-status");
    var done = function (ok) {
      button.textContent = ok ? "Copied" : "Copy";
      if (status) status.textContent = ok ? "Secret copied to the clipboard." : "Select the key and copy it.";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { done(true); }, function () {
        input.select(); done(false);
      });
    } else {
      input.select();
      try { done(document.execCommand("copy")); } catch (e) { done(false); }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () { copy(b); });
    });
    document.querySelectorAll("input.secret").forEach(function (i) {
      i.addEventListener("focus", function () { i.select(); });
    });
    var focus = document.querySelector("[data-focus]");
    if (focus) focus.focus();
    if (document.querySelector("time[data-countdown]")) {
      tick();
      setInterval(tick, 1000);
    }
  });
})();
