// The user-data field: autosave with the version the page shows, nothing typed lost, open pages
// kept current. The plain form POST (and its conflict page) stays as the no-JavaScript fallback.
//
// - Each save sends {userData, version}; a 409 carries both texts and shows the same choice as the
//   server-rendered conflict page (keep mine / take the current one / edit and save).
// - Unsaved text lives in sessionStorage until the server confirms it; after a sign-in (the
//   "session ended" message links to it) the page restores it and saves it, version check included.
// - Every POLL seconds while the tab is visible, the page asks the save endpoint for its state
//   (ETag / If-None-Match) and takes a change from the IdP when nothing is unsaved, or offers the
//   choice when something is.
(function () {
  "use strict";
  var form = document.getElementById("userdata-form");
  var field = document.getElementById("userdata-text");
  var status = document.getElementById("userdata-status");
  var limitHint = document.getElementById("userdata-limit");
  var panel = document.getElementById("userdata-conflict");
  if (!form || !field || !status) { return; }

  var DEBOUNCE_MS = 700;
  var RETRY_MS = 5000;
  var POLL_MS = (parseInt(form.getAttribute("data-poll-seconds"), 10) || 15) * 1000;
  var maxBytes = parseInt(field.getAttribute("data-max-bytes"), 10) || 65536;
  var token = form.querySelector("input[name=csrfmiddlewaretoken]");
  var versionInput = form.querySelector("input[name=version]");
  var draftKey = form.getAttribute("data-draft-key") || "userdata-draft";
  var loginUrl = form.getAttribute("data-login-url") || "/auth/login/";
  var version = parseInt(form.getAttribute("data-version"), 10) || 0;
  var confirmed = field.value;   // the text the server holds at `version`
  var state = status.getAttribute("data-state");
  var etag = null;
  var timer = null;
  var inFlight = false;
  var again = false;
  var choosing = !!(panel && !panel.hidden);
  var encoder = window.TextEncoder ? new TextEncoder() : null;
  var LABELS = {
    saved: "Saved.",
    syncing: "Saving…",
    pending: "Saved here. Waiting to sync with the identity provider.",
    conflict: "Your text and the current one differ. Choose which to keep.",
    error: "Not saved yet."
  };

  function show(newState, message) {
    state = newState;
    status.className = "status status-" + newState;
    status.setAttribute("data-state", newState);
    status.textContent = message || LABELS[newState] || "";
  }

  function showSignIn() {
    state = "error";
    status.className = "status status-error";
    status.setAttribute("data-state", "error");
    status.textContent = "Your session has ended. Your text is kept in this tab: ";
    var link = document.createElement("a");
    link.href = loginUrl;
    link.id = "userdata-sign-in";
    link.textContent = "sign in again";
    status.appendChild(link);
    status.appendChild(document.createTextNode(" and it will be restored."));
  }

  function setVersion(value) {
    version = value;
    if (versionInput) { versionInput.value = String(value); }
    form.setAttribute("data-version", String(value));
  }

  // --- drafts: sessionStorage until the server confirms ------------------------------------
  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }
  function keepDraft() {
    var s = storage();
    if (!s) { return; }
    try {
      s.setItem(draftKey, JSON.stringify({ text: field.value, version: version }));
    } catch (e) { /* full or disabled: the server copy is all we have */ }
  }
  function dropDraft() {
    var s = storage();
    if (s) { s.removeItem(draftKey); }
  }
  function readDraft() {
    var s = storage();
    if (!s) { return null; }
    try { return JSON.parse(s.getItem(draftKey) || "null"); } catch (e) { return null; }
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

  function post(body) {
    return fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-Requested-With": "XMLHttpRequest",
        "X-CSRFToken": token ? token.value : ""
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { response: response, body: data };
      });
    });
  }

  // What the server says the field now holds (a save's answer or a poll's).
  function took(body) {
    if (typeof body.version === "number") { setVersion(body.version); }
    if (typeof body.text === "string") { confirmed = body.text; }
  }

  function send(extra) {
    timer = null;
    if (choosing && !extra) { return; }
    if (overLimit()) { show("error", "Not saved: the text is too long."); return; }
    if (inFlight) { again = true; return; }
    var text = extra && typeof extra.userData === "string" ? extra.userData : field.value;
    var body = { userData: text, version: extra && extra.version !== undefined ? extra.version : version };
    if (extra && extra.choice) { body.choice = extra.choice; }
    inFlight = true;
    show("syncing");
    post(body).then(function (result) {
      var response = result.response;
      var data = result.body;
      if (response.ok) {
        took(data);
        if (choosing) { closeChoice(); field.value = confirmed; }
        if (field.value === confirmed) {
          dropDraft();
          show(data.state || "saved", data.message);
          if (data.state === "pending") { schedulePoll(2000); }
          if (data.conflict) { openChoice(data.conflict); }
        } else {
          again = true;  // typed while this one was on its way: not "saved" until that is sent
        }
      } else if (response.status === 409 && data.conflict) {
        took({ version: data.version, text: data.text });
        openChoice(data.conflict);
      } else if (response.status === 403 && data.error === "csrf_failed" && data.signed_in) {
        keepDraft();
        show("error", data.message);  // a stale page, not an ended session
      } else if (response.status === 401 || response.status === 403) {
        keepDraft();
        showSignIn();
      } else if (response.status >= 500 || response.status === 0) {
        show("error", (data.error || "Not saved (error " + response.status + ").") + " Retrying…");
        schedule(RETRY_MS);
      } else {
        show("error", data.error || "Not saved (error " + response.status + ").");
      }
    }).catch(function () {
      show("error", "Can't reach the server. Your text is kept in this tab; retrying…");
      schedule(RETRY_MS);
    }).then(function () {
      inFlight = false;
      if (again) { again = false; if (field.value !== confirmed && !choosing) { schedule(0); } }
    });
  }

  function schedule(delay) {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(send, delay);
  }

  // --- the choice between versions ----------------------------------------------------------
  function openChoice(conflict) {
    if (!panel) { return; }
    choosing = true;
    var yours = document.getElementById("userdata-yours");
    var current = document.getElementById("userdata-current");
    var where = document.getElementById("userdata-conflict-where");
    var when = document.getElementById("userdata-conflict-when");
    if (yours) { yours.value = conflict.yours; }
    if (current) { current.value = conflict.current; }
    if (where) { where.textContent = conflict.changed_from ? "at " + conflict.changed_from : ""; }
    if (when) {
      when.setAttribute("datetime", conflict.changed_at || "");
      when.textContent = conflict.changed_at ? new Date(conflict.changed_at).toLocaleString() : "";
    }
    panel.querySelectorAll("input[name=version]").forEach(function (input) {
      input.value = String(conflict.version);
    });
    panel.hidden = false;
    show("conflict");
    keepDraft();
  }

  function closeChoice() {
    choosing = false;
    if (panel) { panel.hidden = true; }
  }

  if (panel) {
    var mine = document.getElementById("userdata-keep-mine");
    var current = document.getElementById("userdata-take-current");
    if (mine) {
      mine.addEventListener("submit", function (event) {
        event.preventDefault();
        var yours = document.getElementById("userdata-yours");
        var text = yours ? yours.value : field.value;
        field.value = text;
        send({ userData: text, version: version, choice: "mine" });
      });
    }
    if (current) {
      current.addEventListener("submit", function (event) {
        event.preventDefault();
        send({ version: version, choice: "theirs" });
      });
    }
  }

  // --- open pages stay current ---------------------------------------------------------------
  var pollTimer = null;
  function schedulePoll(delay) {
    if (pollTimer) { clearTimeout(pollTimer); }
    pollTimer = setTimeout(poll, delay === undefined ? POLL_MS : delay);
  }

  function poll() {
    pollTimer = null;
    if (document.visibilityState === "hidden") { return; }  // resumed on visibilitychange
    var headers = { "Accept": "application/json" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(form.action, { credentials: "same-origin", headers: headers, cache: "no-store" })
      .then(function (response) {
        if (response.status === 304) { return null; }
        if (response.status === 401) { if (field.value !== confirmed) { keepDraft(); showSignIn(); } return null; }
        if (!response.ok) { return null; }
        etag = response.headers.get("ETag");
        return response.json();
      })
      .then(function (body) {
        if (!body || inFlight) { return; }
        var unsaved = field.value !== confirmed || timer !== null;
        var newer = typeof body.version === "number" && body.version !== version;
        if (body.conflict && !choosing) {
          took(body);
          openChoice({
            yours: field.value,
            current: body.conflict.current,
            version: body.version,
            changed_at: body.conflict.changed_at,
            changed_from: body.conflict.changed_from
          });
        } else if (newer && unsaved && !choosing) {
          var yours = field.value;
          took(body);
          openChoice({
            yours: yours,
            current: body.text,
            version: body.version,
            changed_at: body.changed_at || null,
            changed_from: "the identity provider"
          });
        } else if (!unsaved && !choosing) {
          took(body);
          field.value = body.text;
          show(body.state, body.message);
        }
      })
      .catch(function () { /* offline: try again at the next tick */ })
      .then(function () { if (!pollTimer) { schedulePoll(state === "pending" ? 2000 : POLL_MS); } });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { schedulePoll(0); }
  });

  // --- wiring --------------------------------------------------------------------------------
  field.addEventListener("input", function () {
    overLimit();
    keepDraft();
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
  // Signing out clears the drafts of this tab (the next person at this browser sees none).
  document.querySelectorAll("form[action*='logout']").forEach(function (logout) {
    logout.addEventListener("submit", function () {
      var s = storage();
      if (!s) { return; }
      for (var i = s.length - 1; i >= 0; i--) {
        var key = s.key(i);
        if (key && key.indexOf("userdata-draft") === 0) { s.removeItem(key); }
      }
    });
  });

  // A draft kept when the session ended (or the tab reloaded before a save) comes back.
  var draft = readDraft();
  if (draft && typeof draft.text === "string" && draft.text !== field.value && !choosing) {
    field.value = draft.text;
    show("syncing", "Restored your unsaved text; saving…");
    send({ userData: draft.text, version: typeof draft.version === "number" ? draft.version : version });
  } else if (draft && draft.text === field.value) {
    dropDraft();
  }
  schedulePoll(state === "pending" ? 2000 : POLL_MS);
})();
