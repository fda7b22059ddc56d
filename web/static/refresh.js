// Auto-refresh of the report without losing the reader's place: re-fetch the
// server-rendered fragment (same origin, same query) and swap it in, keeping the
// scroll position; the search box lives outside the swapped region.
(function () {
  "use strict";
  var body = document.body;
  var seconds = Number(body.getAttribute("data-refresh-seconds"));
  var region = document.getElementById("report");
  var status = document.getElementById("refresh-status");
  if (!region || !(seconds > 0) || !window.fetch || !window.DOMParser) {
    return;
  }
  var busy = false;

  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    var url = new URL(body.getAttribute("data-fragment-url"), window.location.href);
    url.search = window.location.search;
    fetch(url.toString(), { credentials: "same-origin", cache: "no-store" })
      .then(function (resp) {
        if (!resp.ok && resp.status !== 400) {
          throw new Error("HTTP " + resp.status);
        }
        return resp.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var x = window.scrollX;
        var y = window.scrollY;
        region.replaceChildren.apply(region, Array.from(doc.body.childNodes));
        window.scrollTo(x, y);
        if (status) {
          status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
        }
      })
      .catch(function (err) {
        if (status) {
          status.textContent = "Refresh failed (" + err.message + "); retrying.";
        }
      })
      .finally(function () {
        busy = false;
      });
  }

  window.setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", refresh);
})();
