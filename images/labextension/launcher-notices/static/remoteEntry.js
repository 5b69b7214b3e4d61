/*
 * launcher-notices: a JupyterLab 4 extension without a build step. JupyterLab loads a
 * federated extension by running its remoteEntry script, which must put a container with
 * init() and get() at window._JUPYTERLAB[<package name>]; get("./extension") resolves to a
 * factory of the module whose default export is the plugin. This plugin needs nothing from
 * the shared scope: it talks to JupyterLab through its commands and to the servers through
 * fetch.
 *
 * What it does: every 15 s it reads the notice the hub's culler writes into the student's
 * home (GPU-IDLE-WARNING.txt) through the contents API, without counting as activity
 * (?no_track_activity=1). The notice is JSON (launcher/services/culler/service.py,
 * notice_text): {"message": the sentence in the student's language, "action": "warn" or
 * "stopped", "reason": "gpu_idle" or "quota", "stop_at": the stop's time in UTC,
 * "language": "en" or "zh_CN", ...}. A warning whose stop is still ahead (by the server's
 * clock: the response's Date header, not the laptop's) is shown as a notification that stays
 * until acted on: "Keep working" closes it; "Save and stop" saves every open document, then
 * stops this server through the hub (as the student's own Stop button does) and goes to the
 * hub's home. Anything else (the sentence of a stop kept from the last session, a warning
 * whose time has passed, a file that is not such JSON) is never shown.
 */
(function () {
  "use strict";
  var NAME = "launcher-notices";
  var NOTICE = "GPU-IDLE-WARNING.txt";
  var EVERY_MS = 15000;

  function config(key) {
    var el = document.getElementById("jupyter-config-data");
    try { return JSON.parse(el.textContent)[key] || ""; } catch (e) { return ""; }
  }

  function xsrf() {
    var m = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  var WORDS = {
    en: { keep: "Keep working", stop: "Save and stop" },
    zh: { keep: "继续工作", stop: "保存并停止" }
  };

  // the buttons speak the notice's language (that of its sentence), else JupyterLab's
  function words(notice) {
    var lang = ((notice && notice.language) || document.documentElement.lang || "en").slice(0, 2);
    return WORDS[lang] || WORDS.en;
  }

  // the warning to show from the notice file's text (null: none), at the server's time now
  function warning(text, now) {
    var notice;
    try { notice = JSON.parse(text); } catch (e) { return null; }
    if (!notice || notice.action !== "warn" || typeof notice.message !== "string") { return null; }
    var stopAt = Date.parse(notice.stop_at);
    if (!isNaN(stopAt) && stopAt <= now) { return null; }
    return notice;
  }

  async function stopHere() {
    var hub = config("hubPrefix");
    var user = config("hubUser");
    var server = config("hubServerName");
    var home = await fetch(hub + "home", { credentials: "same-origin" });
    var token = ((await home.text()).match(/xsrf_token:\s*"([^"]+)"/) || [])[1] || "";
    var url = hub + "api/users/" + encodeURIComponent(user) +
      (server ? "/servers/" + encodeURIComponent(server) : "/server");
    await fetch(url, {
      method: "DELETE",
      credentials: "same-origin",
      headers: { "X-XSRFToken": token }
    });
    window.location.href = hub + "home";
  }

  var plugin = {
    id: "launcher-notices:plugin",
    description: "The hub's warnings (GPU idle, quota) as notifications.",
    autoStart: true,
    activate: function (app) {
      var shown = null; // { text, notice, id }: the notification on screen
      app.commands.addCommand("launcher-notices:keep", {
        label: function () { return words(shown && shown.notice).keep; },
        execute: function () { /* the notification closes; it comes back only if it changes */ }
      });
      app.commands.addCommand("launcher-notices:save-and-stop", {
        label: function () { return words(shown && shown.notice).stop; },
        execute: async function () {
          try { await app.commands.execute("docmanager:save-all"); } catch (e) { /* none open */ }
          await stopHere();
        }
      });
      var base = config("baseUrl");
      var url = base + "api/contents/" + NOTICE + "?content=1&type=file&format=text&no_track_activity=1";

      async function look() {
        var text = "";
        var now = Date.now();
        try {
          var resp = await fetch(url, { credentials: "same-origin", headers: { "X-XSRFToken": xsrf() } });
          var date = Date.parse(resp.headers.get("Date") || "");
          if (!isNaN(date)) { now = date; } // the server's clock
          if (resp.ok) { text = ((await resp.json()).content || "").trim(); }
        } catch (e) { return; }
        var notice = warning(text, now);
        if (shown && (shown.text !== text || !notice)) {
          app.commands.execute("apputils:dismiss-notification", { id: shown.id });
          shown = null;
          delete document.body.dataset.launcherNotice;
        }
        if (notice && !shown) {
          shown = { text: text, notice: notice, id: null };
          var w = words(notice);
          shown.id = await app.commands.execute("apputils:notify", {
            message: notice.message,
            type: "warning",
            options: {
              autoClose: false,
              actions: [
                { label: w.keep, commandId: "launcher-notices:keep", displayType: "default" },
                { label: w.stop, commandId: "launcher-notices:save-and-stop", displayType: "accent" }
              ]
            }
          });
          document.body.dataset.launcherNotice = notice.reason || "shown";
        }
      }
      app.restored.then(function () { look(); setInterval(look, EVERY_MS); });
    }
  };

  var _JUPYTERLAB = (window._JUPYTERLAB = window._JUPYTERLAB || {});
  _JUPYTERLAB[NAME] = {
    init: function () { return Promise.resolve(); },
    get: function (module) {
      if (module !== "./extension" && module !== "./index") {
        return Promise.reject(new Error(NAME + " has no module " + module));
      }
      return Promise.resolve(function () { return { __esModule: true, default: plugin }; });
    }
  };
})();
