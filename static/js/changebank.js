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
    } else if (answer.status === 403 && answer.body.error === "csrf_failed") {
      show(answer.body.message, "error");
    } else if (answer.status === 403) {
      show("Your account does not allow this. Making change needs a customer or teller account.", "error");
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

  // Panic asks first: the first press shows a confirmation beside the button, and only "Yes, call
  // the police" posts. Without JavaScript the server asks the same question on a page of its own.
  var panicForm = panel.querySelector('form[data-changebank="panic"]');
  if (panicForm) {
    var panicButton = panicForm.querySelector("button");
    var confirmBox = null;

    function closeConfirm() {
      if (confirmBox) {
        confirmBox.parentNode.removeChild(confirmBox);
        confirmBox = null;
      }
      panicButton.disabled = false;
    }

    function sendPanic() {
      var token = panicForm.elements.csrfmiddlewaretoken.value;
      var yes = confirmBox.querySelector("button[data-confirm]");
      yes.disabled = true;
      call("POST", "/panic", token)
        .then(function (answer) {
          closeConfirm();
          if (answer.status === 403 && answer.body.error !== "csrf_failed") {
            show("Alarm not sent: only tellers can raise the alarm. Nobody was alerted.", "error");
            return;
          }
          handle(answer, function (body) {
            show("Alarm sent. " + body.message + " Stay somewhere safe.", "alert");
          });
        }, function () {
          closeConfirm();
          show("The alarm could not be sent: the connection failed. If you are in danger, phone the emergency number.", "error");
        })
        .then(function () {
          panicButton.focus();
        });
    }

    panicForm.addEventListener("submit", function (event) {
      event.preventDefault();
      if (confirmBox) {
        return;
      }
      panicButton.disabled = true;
      confirmBox = document.createElement("div");
      confirmBox.className = "confirm";
      confirmBox.setAttribute("role", "group");
      confirmBox.setAttribute("aria-labelledby", "changebank-confirm-text");
      var question = document.createElement("p");
      question.id = "changebank-confirm-text";
      question.textContent = "Call the police now? This raises the branch's silent alarm.";
      var yes = document.createElement("button");
      yes.type = "button";
      yes.className = "btn btn-danger";
      yes.setAttribute("data-confirm", "yes");
      yes.textContent = "Yes, call the police";
      var no = document.createElement("button");
      no.type = "button";
      no.className = "btn btn-quiet";
      no.textContent = "Cancel";
      var actions = document.createElement("div");
      actions.className = "actions";
      actions.appendChild(yes);
      actions.appendChild(no);
      confirmBox.appendChild(question);
      confirmBox.appendChild(actions);
      panicForm.parentNode.insertBefore(confirmBox, panicForm.nextSibling);
      yes.addEventListener("click", sendPanic);
      no.addEventListener("click", function () {
        closeConfirm();
        panicButton.focus();
      });
      confirmBox.addEventListener("keydown", function (key) {
        if (key.key === "Escape") {
          closeConfirm();
          panicButton.focus();
        }
      });
      yes.focus();
    });
  }
})();
