// Herald's operator page: confirmations, the live events table and the
// presence tables kept fresh. No framework, no build step; served from
// 'self' under a Content-Security-Policy that allows nothing inline.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Forms that ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.dataset.confirm)) {
        e.preventDefault();
      }
    });
  });

  var live = document.getElementById("live");
  if (live) {
    followLive(live);
  }
  var presence = document.getElementById("presence");
  if (presence) {
    keepFresh(presence);
  }
});

function cell(row, text, cls) {
  var td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) { td.className = cls; }
  row.appendChild(td);
}

function setStatus(text, state) {
  var s = document.getElementById("live-status");
  if (s) {
    s.textContent = text;
    s.className = "state state-" + state;
  }
}

// followLive adds each event of the stream to the table, newest first.
function followLive(table) {
  var body = table.tBodies[0];
  var source = new EventSource(table.dataset.stream);
  source.onopen = function () { setStatus("live", "up"); };
  source.onerror = function () { setStatus("reconnecting", "degraded"); };
  source.addEventListener("message", function (e) {
    var ev;
    try { ev = JSON.parse(e.data); } catch (err) { return; }
    var row = document.createElement("tr");
    row.dataset.seq = ev.seq;
    if (String(ev.topic).indexOf("herald.") === 0) {
      row.className = "operator";
    }
    cell(row, ev.seq);
    cell(row, String(ev.received).replace("T", " "), "nowrap");
    cell(row, ev.topic);
    cell(row, ev.instanceId);
    cell(row, ev.text);
    cell(row, ev.info);
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > 200) {
      body.deleteRow(body.rows.length - 1);
    }
  });
}

// keepFresh fetches the presence tables again when events arrive (at most
// once a second) and every 10 seconds, for last-seen times and windows.
function keepFresh(box) {
  var url = box.dataset.fragment;
  var pending = false, last = 0;
  function refresh() {
    pending = false;
    last = Date.now();
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null) {
        var doc = new DOMParser().parseFromString("<!doctype html><body>" + html, "text/html");
        box.replaceChildren.apply(box, Array.prototype.slice.call(doc.body.childNodes));
        box.dataset.refreshed = String(last);
      }
    }).catch(function () {});
  }
  function soon() {
    if (pending) { return; }
    pending = true;
    setTimeout(refresh, Math.max(0, 1000 - (Date.now() - last)));
  }
  var source = new EventSource("/ui/live/stream");
  source.onopen = function () { box.dataset.live = "1"; };
  source.onerror = function () { box.dataset.live = "0"; };
  source.addEventListener("message", soon);
  setInterval(soon, 10000);
}
