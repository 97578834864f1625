// The traveller's screen: puts in place what the lane's events say (the server draws each
// view in the traveller's language), shows the live mirror, sends the language chosen.
// Nothing is stored: no cookie, no localStorage, no sessionStorage.
"use strict";
(function () {
  var view = document.getElementById("view");
  var nav = document.getElementById("languages");
  // Lane state -> screen update, in seconds, measured here (the lane stamps each view with
  // its wall-clock time; both run on the kiosk). Kept in memory for docs/screen.md's figure.
  var latencies = [];
  window.screenLatencies = latencies;
  var replay = true;  // the first view after (re)connecting is the current one, not a change

  function show(message) {
    view.innerHTML = message.html;  // drawn by the server from its catalogues only
    document.documentElement.lang = message.lang;
    document.documentElement.dir = message.dir;
    document.title = message.title;
    nav.setAttribute("aria-label", message.language);
    nav.querySelectorAll("button").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === message.lang));
    });
    document.body.dataset.view = message.view;
    document.body.dataset.lang = message.lang;
    document.body.dataset.seq = String(message.seq);
    if (replay) {
      replay = false;
      return;
    }
    window.requestAnimationFrame(function () {
      latencies.push(Date.now() / 1000 - message.sent);
      if (latencies.length > 5000) latencies.shift();
    });
  }

  function frame(message) {
    var box = document.getElementById("mirror-box");
    if (!box) return;
    document.getElementById("mirror").src = message.image;
    box.dataset.ok = String(message.ok);
    var hint = document.getElementById("hint");  // the challenge's view asks, it gives no hint
    if (!hint) return;
    hint.dataset.ok = String(message.ok);
    document.getElementById("hint-text").textContent = message.hint;
  }

  nav.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-lang]");
    if (!button) return;
    fetch("/language", {
      method: "POST",
      headers: {"content-type": "application/json"},
      body: JSON.stringify({lang: button.dataset.lang}),
      credentials: "omit",
      cache: "no-store",
    });
  });

  // Every script's font is loaded at once, so a view never waits for one.
  ["Screen", "Screen Arabic", "Screen CJK"].forEach(function (family) {
    document.fonts.load("700 1em '" + family + "'", "Aع中").catch(function () {});
  });

  var source = new EventSource("/events");
  source.addEventListener("view", function (event) { show(JSON.parse(event.data)); });
  source.addEventListener("frame", function (event) { frame(JSON.parse(event.data)); });
  source.addEventListener("open", function () {
    replay = true;
    document.body.dataset.live = "true";
  });
  source.addEventListener("error", function () { document.body.dataset.live = "false"; });
})();
