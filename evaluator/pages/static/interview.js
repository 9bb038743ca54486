// The interview page (evaluator/service/interview.py): send the form as it changes and swap in the
// content the server renders, so that the verdict firms up and the next question appears without a
// page load. Without this script the form posts and the whole page comes back.
(function () {
  "use strict";
  var form = document.getElementById("interview");
  if (!form || !window.fetch) { return; }
  var sent = 0;      // the number of the latest request: an older answer is not shown over a newer one
  var shown = 0;

  function enable(root) {
    root.querySelectorAll("[data-copy], [data-print]").forEach(function (button) { button.hidden = false; });
  }

  function send(submitter) {
    var data = submitter ? new FormData(form, submitter) : new FormData(form);
    var number = ++sent;
    var focused = document.activeElement;
    var wasNext = focused && focused.closest && focused.closest("[data-next]") !== null;
    var focusName = focused && form.contains(focused) ? focused.name : null;
    form.setAttribute("aria-busy", "true");
    return fetch("/interview", {
      method: "POST",
      headers: {"Content-Type": "application/x-www-form-urlencoded"},
      body: new URLSearchParams(data)
    }).then(function (response) {
      if (!response.ok) { throw new Error("the service answered " + response.status); }
      return response.text();
    }).then(function (html) {
      if (number < shown) { return; }
      shown = number;
      form.innerHTML = html;
      enable(form);
      form.removeAttribute("aria-busy");
      // After an answer to the next question (or a button), go on to the question that follows;
      // else stay where the person was.
      var target = null;
      if (wasNext || submitter) {
        target = form.querySelector("[data-next] input, [data-next] select");
      } else if (focusName) {
        target = form.querySelector('[name="' + CSS.escape(focusName) + '"]');
      }
      if (target) { target.focus({preventScroll: !submitter && !wasNext}); }
      // The number of the answer shown, for whoever waits for the page to settle (the browser test).
      document.documentElement.setAttribute("data-updated", String(number));
    }).catch(function (error) {
      form.removeAttribute("aria-busy");
      var status = form.querySelector("#verdict-h");
      if (status) { status.textContent = "Could not reach the service: " + error.message; }
    });
  }

  // Choices take effect at once; a typed number or date when it is complete (change: on Enter or Tab).
  form.addEventListener("change", function (event) {
    if (event.target && event.target.name) { send(null); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(event.submitter || null);
  });
  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy], button[data-print]");
    if (!button) { return; }
    if (button.hasAttribute("data-print")) { window.print(); return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    var done = function (word) {
      button.textContent = word;
      setTimeout(function () { button.textContent = "Copy the summary"; }, 2000);
    };
    // The clipboard API is there only on https or localhost; elsewhere select the text for Ctrl+C.
    var select = function () {
      var range = document.createRange();
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      done("Selected: press Ctrl+C");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(function () { done("Copied"); }, select);
    } else {
      select();
    }
  });
  enable(form);
  document.documentElement.setAttribute("data-interview", "ready");
}());
