// ChangeBank panel: calls the API through the BFF (the browser never holds a token) and shows the
// answer in the panel's live region. Without JavaScript the same forms work as plain page requests.
(function () {
  "use strict";

  var panel = document.getElementById("changebank");
  if (!panel || !window.fetch) {
    return;
  }
  var apiBase = panel.getAttribute("data-api-base") || "/api";
  var result = document.getElementById("changebank-result");

  function show(text, kind) {
    result.textContent = "";
    var p = document.createElement("p");
    p.className = "msg" + (kind ? " msg-" + kind : "");
    p.textContent = text;
    result.appendChild(p);
  }

  function showSignIn(text) {
    show(text + " ", "error");
    var link = document.createElement("a");
    link.href = "/auth/login/?next=" + encodeURIComponent(window.location.pathname);
    link.textContent = "Sign in again";
    result.firstChild.appendChild(link);
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  // X-CSRF marks the call as same-origin script for the BFF proxy; X-CSRFToken satisfies Django's
  // CSRF check when the page calls /api directly with its session.
  function call(method, path, csrfToken) {
    var headers = { "Accept": "application/json", "X-CSRF": "1" };
    if (csrfToken) {
      headers["X-CSRFToken"] = csrfToken;
    }
    return fetch(apiBase + path, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      redirect: "error"
    }).then(function (response) {
      return response.json().catch(function () {
        return {};
      }).then(function (body) {
        return { status: response.status, body: body };
      });
    });
  }

  function handle(answer, onSuccess) {
    if (answer.status === 200) {
      onSuccess(answer.body);
    } else if (answer.status === 401) {
      showSignIn("Your session has ended.");
    } else if (answer.status === 403) {
      show(answer.body.message || "You do not have a role that allows this.", "error");
    } else {
      show(answer.body.message || "Something went wrong (status " + answer.status + ").", "error");
    }
  }

  function failed() {
    show("The request could not be sent. Check your connection and try again.", "error");
  }

  var changeForm = panel.querySelector('form[data-changebank="make-change"]');
  if (changeForm) {
    changeForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var total = changeForm.elements.total.value.trim();
      var button = changeForm.querySelector("button");
      button.disabled = true;
      show("Counting coins…");
      call("GET", "/make-change?total=" + encodeURIComponent(total))
        .then(function (answer) {
          handle(answer, function (body) {
            show(
              "$" + Number(body.total).toFixed(2) + " is " +
                plural(body.nickels, "nickel", "nickels") + " and " +
                plural(body.pennies, "penny", "pennies") + ".",
              "success"
            );
          });
        }, failed)
        .then(function () {
          button.disabled = false;
        });
    });
  }

  var panicForm = panel.querySelector('form[data-changebank="panic"]');
  if (panicForm) {
    panicForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = panicForm.querySelector("button");
      var token = panicForm.elements.csrfmiddlewaretoken.value;
      button.disabled = true;
      call("POST", "/panic", token)
        .then(function (answer) {
          handle(answer, function (body) {
            show(body.message, "success");
          });
        }, failed)
        .then(function () {
          button.disabled = false;
        });
    });
  }
})();
