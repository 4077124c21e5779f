// escucha voice: the SIP transport (ADR 23). The agent's browser registers to the
// organisation's PBX (its WebRTC endpoint, SIP over secure WebSocket) with JsSIP and the
// credentials escucha keeps for the agent; the PBX calls the agent when escucha hands them a
// call, and this phone answers by itself (the agent already chose the call on the desk).
//
//   var phone = EscuchaVoice.transports.sip({account, iceServers, getMic})
//   phone.register() / phone.unregister()
//   phone.registration()           "registering" | "registered" | "unregistered" | "failed"
//   and the functions every transport has (voice.js): contact, start, hold (shown only: the PBX
//   holds the customer), mute, dtmf,
//   hangup, quality, on("remote" | "state" | "registration" | "message", fn).
//
// At the end of this file, the desk hook: when escucha says the agent's phone is this
// browser, JsSIP (vendored) is loaded, the phone registers, the registration is reported to
// escucha (presence follows it) and the desk's mute, keypad and meters drive the SIP call.
// When the agent's phone is a desk phone, the softphone shows no sound controls.
(function () {
  "use strict";
  var V = (window.EscuchaVoice = window.EscuchaVoice || {});
  V.transports = V.transports || {};

  // options: {account: {ws_url, uri, username, password, display_name}, iceServers, getMic}
  V.transports.sip = function (options) {
    var JsSIP = window.JsSIP;
    var handlers = { remote: [], state: [], registration: [], message: [] };
    var ua = null, session = null, mic = null, contact = null, last = {};
    var registration = "unregistered", holding = false, muted = false;
    function emit(name, value) { handlers[name].forEach(function (fn) { fn(value); }); }
    function registered(value) { registration = value; emit("registration", value); }

    function attach(pc) {
      pc.addEventListener("track", function (e) {
        emit("remote", e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track]));
      });
      pc.addEventListener("connectionstatechange", function () { emit("state", pc.connectionState); });
    }

    function incoming(s) {
      if (session) { s.terminate({ status_code: 486, reason_phrase: "Busy Here" }); return; }
      session = s;
      last = {};
      holding = false;
      s.on("peerconnection", function (e) { attach(e.peerconnection); });
      s.on("ended", function () { finished(s); });
      s.on("failed", function () { finished(s); });
      s.on("newDTMF", function (e) { if (e.originator === "remote") { emit("message", { type: "dtmf", key: e.dtmf.tone }); } });
      emit("state", "ringing");
      Promise.resolve(options.getMic()).catch(function () { return null; }).then(function (stream) {
        if (session !== s || !s.isInProgress()) { return; }
        mic = stream;
        var answer = { pcConfig: { iceServers: options.iceServers || [] }, rtcOfferConstraints: { offerToReceiveAudio: 1 } };
        if (stream) { answer.mediaStream = stream; } else { answer.mediaConstraints = { audio: false, video: false }; }
        s.answer(answer);
        if (muted) { s.mute({ audio: true }); }
      });
    }

    function finished(s) {
      if (session !== s) { return; }
      session = null;
      if (mic) { mic.getTracks().forEach(function (t) { t.stop(); }); mic = null; }
      emit("state", "closed");
    }

    var phone = {
      kind: "sip",
      register: function () {
        if (ua) { return; }
        var a = options.account;
        var socket = new JsSIP.WebSocketInterface(a.ws_url);
        ua = new JsSIP.UA({
          sockets: [socket],
          uri: a.uri,
          authorization_user: a.username,
          password: a.password,
          display_name: a.display_name || undefined,
          register: true,
          register_expires: 120,
          session_timers: false,
          user_agent: "escucha",
        });
        ua.on("registered", function () { registered("registered"); });
        ua.on("unregistered", function () { registered("unregistered"); });
        ua.on("registrationFailed", function () { registered("failed"); });
        ua.on("disconnected", function () { if (registration === "registered") { registered("unregistered"); } });
        ua.on("newRTCSession", function (e) { if (e.originator === "remote") { incoming(e.session); } });
        registered("registering");
        ua.start();
      },
      unregister: function () { if (ua) { ua.stop(); ua = null; registered("unregistered"); } },
      registration: function () { return registration; },
      // The PBX calls the agent; the contact the desk shows is what the sound belongs to.
      contact: function () { return contact; },
      start: function (contactId) { contact = contactId; return Promise.resolve(); },
      accept: function () { return Promise.resolve(); },
      answered: function () { return Promise.resolve(); },
      pc: function () { return session ? session.connection : null; },
      live: function () { return !!session; },
      // Hold is escucha's (ADR 30): the PBX takes the customer out of the bridge onto music on
      // hold over ARI, so the phone sends no re-INVITE and its media path stays as it is.
      hold: function (on) {
        if (!!on === holding) { return; }
        holding = !!on;
        if (session && session.isEstablished()) { emit("state", "connected"); }
      },
      holding: function () { return holding; },
      mute: function (on) {
        muted = !!on;
        if (session) { if (muted) { session.mute({ audio: true }); } else { session.unmute({ audio: true }); } }
      },
      dtmf: function (key) {
        V.dtmfTone(key);
        if (session && session.isEstablished()) {
          // RTP events (RFC 4733) when the call negotiated them, else SIP INFO
          var pc = session.connection, sender = null;
          if (pc) { pc.getSenders().forEach(function (s) { if (s.track && s.track.kind === "audio") { sender = s; } }); }
          var rtp = !!(sender && sender.dtmf && sender.dtmf.canInsertDTMF);
          try { session.sendDTMF(key, { transportType: rtp ? "RFC2833" : "INFO", duration: 120, interToneGap: 60 }); } catch (e) {}
        }
      },
      hangup: function () {
        var s = session;
        if (s) { try { s.terminate(); } catch (e) {} finished(s); }
        contact = null;
      },
      quality: function () {
        var pc = session ? session.connection : null;
        return pc ? V.stats(pc, last) : Promise.resolve(null);
      },
      on: function (name, fn) { handlers[name].push(fn); },
    };
    return phone;
  };

  // --- the desk hook ------------------------------------------------------------------------

  var panel = document.querySelector("[data-softphone][data-sip]");
  if (!panel) { return; }

  function load(src) {
    return new Promise(function (resolve, reject) {
      var el = document.createElement("script");
      el.src = src;
      el.onload = resolve;
      el.onerror = function () { reject(new Error(src)); };
      document.head.appendChild(el);
    });
  }

  function report(state) {
    return V.post("/agent/voice/sip", { registration: state }).catch(function () {});
  }

  function deskPhone(account) {
    panel.setAttribute("data-phone", "desk"); // voice.css hides the sound controls
    var note = panel.querySelector("[data-sp-desk-phone]");
    if (note) { note.hidden = false; note.textContent = V.format(note.textContent, { username: account.username }); }
  }

  function browserPhone(account) {
    var T = V.texts("sp-text");
    var status = panel.querySelector("[data-sp-status]");
    var reg = panel.querySelector("[data-sp-registration]");
    var remoteAudio = panel.querySelector("[data-sp-remote]");
    var muteBtn = panel.querySelector("[data-sp-mute]");
    var remoteMeter = panel.querySelector("[data-sp-remote-level]");
    var micSel = panel.querySelector("[data-sp-mic]");
    var level = null;
    var state = (V.state = V.state || {});
    function getMic() {
      var constraints = micSel && micSel.value ? { deviceId: { exact: micSel.value } } : true;
      return navigator.mediaDevices.getUserMedia({ audio: constraints, video: false }).then(function (s) {
        state.mic = s;
        return s;
      });
    }
    var iceServers = [];
    try { iceServers = JSON.parse(panel.dataset.ice || "[]"); } catch (e) { iceServers = []; }
    var phone = V.transports.sip({ account: account, iceServers: iceServers, getMic: getMic });
    V.phone = phone;
    panel.setAttribute("data-phone", "browser");
    phone.on("registration", function (value) {
      panel.setAttribute("data-sip-registration", value);
      if (reg) { reg.textContent = T["sip_" + value] || value; }
      report(value);
    });
    phone.on("remote", function (stream) {
      state.remote = stream;
      remoteAudio.srcObject = stream;
      if (level) { level.stop(); }
      level = V.level(stream, remoteMeter);
    });
    phone.on("state", function (s) {
      if (s === "ringing") {
        state.call = phone;
        if (muteBtn) { muteBtn.disabled = false; }
        status.textContent = T.connecting;
      } else if (s === "connected") {
        status.textContent = phone.holding() ? T.hold : T.talking;
      } else if (s === "failed") {
        status.textContent = T.failed;
      } else if (s === "closed") {
        if (state.call === phone) { state.call = null; }
        state.remote = null;
        remoteAudio.srcObject = null;
        if (level) { level.stop(); level = null; }
        if (muteBtn) { muteBtn.disabled = true; }
        status.textContent = T.ended;
      }
    });
    // The desk's hold is shown here; the PBX plays the hold to the customer (no re-INVITE).
    var live = document.getElementById("desk-live");
    function follow() {
      var el = document.querySelector("#desk-live .desk");
      if (el && phone.live()) { phone.hold(el.dataset.voiceState === "on_hold"); }
    }
    if (live) { new MutationObserver(follow).observe(live, { childList: true, subtree: true }); }
    setInterval(function () { report(phone.registration()); }, 10000);
    window.addEventListener("pagehide", function () { phone.unregister(); });
    phone.register();
  }

  fetch(panel.getAttribute("data-sip"), { credentials: "same-origin", cache: "no-store" })
    .then(function (r) { return r.ok ? r.json() : { phone: "none" }; })
    .then(function (account) {
      if (account.phone === "desk") { deskPhone(account); }
      else if (account.phone === "browser") {
        return load(panel.getAttribute("data-jssip")).then(function () { browserPhone(account); });
      }
    })
    .catch(function () {});
})();
