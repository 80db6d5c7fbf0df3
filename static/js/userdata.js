// Saves the userData field as the user types (debounced), without a page reload.
// The plain form POST stays as the no-JavaScript fallback; the CSRF token comes from that form.
(function () {
  "use strict";
  var form = document.getElementById("userdata-form");
  var field = document.getElementById("userdata-text");
  var status = document.getElementById("userdata-status");
  var limitHint = document.getElementById("userdata-limit");
  if (!form || !field || !status) { return; }

  var DEBOUNCE_MS = 700;
  var RETRY_MS = 5000;
  var maxBytes = parseInt(field.getAttribute("data-max-bytes"), 10) || 65536;
  var token = form.querySelector("input[name=csrfmiddlewaretoken]");
  var timer = null;
  var inFlight = false;
  var again = false;
  var lastSent = field.value;
  var encoder = window.TextEncoder ? new TextEncoder() : null;
  var LABELS = {
    saved: "Saved.",
    syncing: "Saving…",
    pending: "Saved here. Waiting to sync with the identity provider.",
    conflict: "Saved here, but the identity provider's copy changed too. Staff will resolve it.",
    error: "Not saved yet."
  };

  function show(state, message) {
    status.className = "status status-" + state;
    status.setAttribute("data-state", state);
    status.textContent = message || LABELS[state] || "";
  }

  function byteLength(text) {
    return encoder ? encoder.encode(text).length : unescape(encodeURIComponent(text)).length;
  }

  function overLimit() {
    var over = byteLength(field.value) > maxBytes;
    field.setAttribute("aria-invalid", over ? "true" : "false");
    if (limitHint) {
      limitHint.hidden = !over;
      limitHint.textContent = over
        ? "Your text is over the limit of " + Math.floor(maxBytes / 1024) + " KB; shorten it to save."
        : "";
    }
    return over;
  }

  function send() {
    timer = null;
    if (overLimit()) { show("error", "Not saved: the text is too long."); return; }
    if (inFlight) { again = true; return; }
    var text = field.value;
    inFlight = true;
    show("syncing");
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-Requested-With": "XMLHttpRequest",
        "X-CSRFToken": token ? token.value : ""
      },
      body: JSON.stringify({ userData: text })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          lastSent = text;
          if (field.value === text) {
            show(body.state || "saved", body.message);
          } else {
            again = true;  // typed while this one was on its way: not "saved" until that is sent
          }
        } else if (response.status === 403 && body.error === "csrf_failed") {
          show("error", body.message);  // a stale page, not an ended session
        } else if (response.status === 401 || response.status === 403) {
          show("error", "Your session has ended. Sign in again; your text is still in the box.");
        } else {
          show("error", body.error || "Not saved (error " + response.status + "). Retrying…");
          schedule(RETRY_MS);
        }
      });
    }).catch(function () {
      show("error", "Can't reach the server. Your text is still here; retrying…");
      schedule(RETRY_MS);
    }).then(function () {
      inFlight = false;
      if (again) { again = false; if (field.value !== lastSent) { schedule(0); } }
    });
  }

  function schedule(delay) {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(send, delay);
  }

  field.addEventListener("input", function () {
    overLimit();
    show("syncing", "Typing…");
    schedule(DEBOUNCE_MS);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    schedule(0);
  });
  window.addEventListener("beforeunload", function (event) {
    if (timer || inFlight) { event.preventDefault(); event.returnValue = ""; }
  });
})();
