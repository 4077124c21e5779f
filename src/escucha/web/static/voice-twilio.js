// The Twilio transport (ADR 24): the desk's softphone on Twilio's Voice JavaScript SDK,
// vendored under static/vendor/ (nothing is loaded from another site). It has the shape of the
// WebRTC transport in voice.js, so the desk's buttons do not change:
//
//   start(contactId)  take the call Twilio rings this desk with (<Dial><Client>agent-<id>)
//   hold(on)          the customer's hold is made by escucha's server: the desk's hold redirects
//                     the phone call to the hold message (TwiML) and the agent's leg ends; on
//                     resume Twilio rings this desk again and the transport takes it at once
//   mute(on), dtmf(key), hangup(), quality() (from the SDK's call-quality samples), on(...)
//
// The access token comes from /agent/voice/twilio-token (identity agent-<user id>, short
// lived, renewed before it expires). The desk registers with Twilio only while the agent is
// available or on a call, so an idle desk makes no request to Twilio.
(function () {
  "use strict";
  var V = window.EscuchaVoice;
  if (!V) { return; }
  V.transports = V.transports || {};
  var TOKEN_URL = "/agent/voice/twilio-token";
  var SILENCE = "/static/voice-silence.wav";
  var SOUNDS = ["incoming", "outgoing", "disconnect", "dtmf0", "dtmf1", "dtmf2", "dtmf3", "dtmf4",
    "dtmf5", "dtmf6", "dtmf7", "dtmf8", "dtmf9", "dtmfs", "dtmfh"];
  var shared = null;

  function fetchToken(url) {
    return V.post(url || TOKEN_URL, {}).then(function (body) { return body.token; });
  }

  // One Device per page: every call of the desk goes through it.
  function device(options) {
    if (shared) { return shared; }
    var Twilio = window.Twilio;
    if (!Twilio || !Twilio.Device) { throw new Error("the Twilio Voice SDK is not loaded"); }
    shared = { device: null, incoming: null, waiters: [], listeners: [] };
    shared.ready = Promise.resolve(options.token || fetchToken(options.tokenUrl)).then(function (token) {
      // The page makes its own ring and keypad tones (voice.js): the SDK's sounds, fetched from
      // Twilio's site by default, are a short silence served here.
      var sounds = {};
      SOUNDS.forEach(function (name) { sounds[name] = SILENCE; });
      var d = new Twilio.Device(token, {
        closeProtection: false, logLevel: "warn", codecPreferences: ["opus", "pcmu"], sounds: sounds,
      });
      if (d.audio) {
        ["incoming", "outgoing", "disconnect"].forEach(function (k) { try { d.audio[k](false); } catch (e) {} });
      }
      d.on("incoming", function (c) {
        shared.incoming = c;
        var clear = function () { if (shared.incoming === c) { shared.incoming = null; } };
        c.on("cancel", clear); c.on("disconnect", clear); c.on("reject", clear);
        shared.waiters.splice(0).forEach(function (fn) { fn(c); });
        shared.listeners.forEach(function (fn) { fn(c); });
      });
      d.on("tokenWillExpire", function () { fetchToken(options.tokenUrl).then(function (t) { d.updateToken(t); }); });
      shared.device = d;
      return d;
    });
    return shared;
  }

  V.transports.twilio = function (options) {
    options = options || {};
    var handlers = { remote: [], state: [], message: [] };
    var dev = device(options);
    var call = null, contact = null, muted = false, holding = false, last = null;
    function emit(name, value) { handlers[name].forEach(function (fn) { fn(value); }); }

    function register() {
      return dev.ready.then(function (d) {
        return d.state === "registered" || d.state === "registering" ? d : d.register().then(function () { return d; });
      });
    }

    function wire(c) {
      c.on("accept", function () {
        var stream = c.getRemoteStream ? c.getRemoteStream() : null;
        if (stream) { emit("remote", stream); }
        emit("state", "connected");
      });
      c.on("disconnect", function () { emit("state", "closed"); });
      c.on("error", function () { emit("state", "failed"); });
      c.on("sample", function (s) {
        last = {
          loss: typeof s.packetsLostFraction === "number" ? s.packetsLostFraction / 100 : null,
          jitter: typeof s.jitter === "number" ? s.jitter / 1000 : null,
          rtt: typeof s.rtt === "number" ? s.rtt / 1000 : null,
        };
      });
      c.on("warning", function (name) { emit("message", { type: "warning", name: name }); });
    }

    function take(c) {
      call = c;
      wire(c);
      c.accept();
      c.mute(muted || holding);
    }

    return {
      contact: function () { return contact; },
      pc: function () { return null; },
      device: function () { return dev.device; },
      ready: function () { return dev.ready; },
      register: register,
      start: function (contactId) {
        contact = contactId;
        return register().then(function () {
          return new Promise(function (resolve) {
            if (dev.incoming) { resolve(dev.incoming); } else { dev.waiters.push(resolve); }
          });
        }).then(function (c) {
          if (contact !== contactId) { return; }
          take(c);
          // resumed from hold, the line rings this desk again: the same call goes on
          dev.listeners.push(function (next) {
            if (contact === contactId && next !== call) { take(next); }
          });
        });
      },
      accept: function () { return Promise.reject(new Error("a Twilio desk takes calls with start()")); },
      answered: function () { return Promise.resolve(); },
      hold: function (on) { holding = !!on; if (call) { call.mute(muted || holding); } },
      holding: function () { return holding; },
      mute: function (on) { muted = !!on; if (call) { call.mute(muted || holding); } },
      dtmf: function (key) { V.dtmfTone(key); if (call) { call.sendDigits(key); } },
      hangup: function () {
        if (call) { try { call.disconnect(); } catch (e) {} }
        call = null; contact = null;
        emit("state", "closed");
      },
      quality: function () { return Promise.resolve(call ? last : null); },
      on: function (name, fn) { handlers[name].push(fn); },
    };
  };

  // The desk: registered while the agent is available or on a call (offered calls ring here).
  var panel = document.querySelector("[data-softphone][data-twilio]");
  var live = document.getElementById("desk-live");
  if (!panel || !live) { return; }
  var phone = null;
  function follow() {
    var el = live.querySelector(".desk");
    var s = el ? el.dataset.state : "";
    if (s === "available" || s === "busy") {
      if (!phone) { phone = V.transports.twilio({ tokenUrl: TOKEN_URL }); }
      phone.register().catch(function () {});
    }
  }
  new MutationObserver(follow).observe(live, { childList: true, subtree: true });
  follow();
})();
