// The console's live parts and confirmations: the only script it serves (no htmx build is
// installable here, so these few lines do what its polling and hx-confirm would).
// A [data-live] element is re-fetched every data-every ms and its content replaced, unless
// someone is typing in one of its fields; a [data-confirm] form asks before it submits.
"use strict";
(function () {
  function busy(region) {
    // typed into in the last 15 s, or a field of it has the focus
    var typed = Date.now() - Number(region.dataset.typedAt || 0) < 15000;
    return typed || region.contains(document.activeElement) &&
      /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
  }
  function refresh(region) {
    if (document.hidden || busy(region)) return;
    fetch(region.dataset.live, {
      credentials: "same-origin",
      headers: { "X-Console-Fragment": "1" },
      redirect: "manual"
    }).then(function (response) {
      if (response.status === 401 || response.type === "opaqueredirect") {
        window.location.assign("/login");
        return null;
      }
      return response.text();
    }).then(function (html) {
      if (html !== null && !busy(region)) region.innerHTML = html;
    }).catch(function () { /* the next tick tries again */ });
  }
  function watch(region) {
    var mark = function () { region.dataset.typedAt = String(Date.now()); };
    region.addEventListener("input", mark);
    region.addEventListener("submit", mark);
    setInterval(function () { refresh(region); }, Number(region.dataset.every || 2000));
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(watch);
    var here = window.location.pathname.split("/")[1];
    document.querySelectorAll("[data-nav='" + here + "']").forEach(function (a) {
      a.classList.add("current");
    });
  });
})();
