// Shows the sessions page's times in the browser's own time zone, with the zone's name; the
// server's rendering (in the site's zone, also named) stays when scripts are off.
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat) return;
  var format = new Intl.DateTimeFormat(undefined, {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    timeZoneName: "short"
  });
  document.querySelectorAll("time[data-local-time]").forEach(function (node) {
    var when = new Date(node.getAttribute("datetime"));
    if (!isNaN(when.getTime())) node.textContent = format.format(when);
  });
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  document.querySelectorAll("[data-local-zone]").forEach(function (node) {
    if (zone) node.textContent = "your time zone, " + zone;
  });
})();
