/*
 * launcher-notices: a JupyterLab 4 extension without a build step. JupyterLab loads a
 * federated extension by running its remoteEntry script, which must put a container with
 * init() and get() at window._JUPYTERLAB[<package name>]; get("./extension") resolves to a
 * factory of the module whose default export is the plugin. This plugin needs nothing from
 * the shared scope: it talks to JupyterLab through its commands and to the servers through
 * fetch.
 *
 * What it does: every 15 s it reads the warning the hub's culler writes into the student's
 * home (GPU-IDLE-WARNING.txt: the GPU-idle or quota warning, in the student's language)
 * through the contents API, without counting as activity (?no_track_activity=1), and shows
 * it as a notification that stays until acted on: "Keep working" closes it; "Save and stop"
 * saves every open document, then stops this server through the hub (as the student's own
 * Stop button does) and goes to the hub's home.
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

  function words() {
    var lang = (config("language") || document.documentElement.lang || "en").slice(0, 2);
    return WORDS[lang] || WORDS.en;
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
      var shown = null; // { text, id }
      app.commands.addCommand("launcher-notices:keep", {
        label: function () { return words().keep; },
        execute: function () { if (shown) { shown.dismissed = true; } }
      });
      app.commands.addCommand("launcher-notices:save-and-stop", {
        label: function () { return words().stop; },
        execute: async function () {
          try { await app.commands.execute("docmanager:save-all"); } catch (e) { /* none open */ }
          await stopHere();
        }
      });
      var base = config("baseUrl");
      var url = base + "api/contents/" + NOTICE + "?content=1&type=file&format=text&no_track_activity=1";

      async function look() {
        var text = "";
        try {
          var resp = await fetch(url, { credentials: "same-origin", headers: { "X-XSRFToken": xsrf() } });
          if (resp.ok) { text = ((await resp.json()).content || "").trim(); }
        } catch (e) { return; }
        if (shown && shown.text !== text) {
          app.commands.execute("apputils:dismiss-notification", { id: shown.id });
          shown = null;
        }
        if (text && !shown) {
          shown = { text: text, id: null, dismissed: false };
          var w = words();
          shown.id = await app.commands.execute("apputils:notify", {
            message: text,
            type: "warning",
            options: {
              autoClose: false,
              actions: [
                { label: w.keep, commandId: "launcher-notices:keep", displayType: "default" },
                { label: w.stop, commandId: "launcher-notices:save-and-stop", displayType: "accent" }
              ]
            }
          });
          document.body.dataset.launcherNotice = "shown";
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
