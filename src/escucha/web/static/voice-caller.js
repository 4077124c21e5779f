// The caller's side of a web call: the microphone (asked for when dialling), the agent's sound,
// and the page's heartbeat so a closed tab is never left waiting in line. The phone below
// (redrawn by htmx) says what the call is doing; this follows it.
(function () {
  "use strict";
  var V = window.EscuchaVoice;
  var panel = document.querySelector("[data-voice-page]");
  if (!V || !panel) { return; }
  var T = V.texts("voice-text");
  var status = panel.querySelector("[data-voice-status]");
  var problem = panel.querySelector("[data-mic-problem]");
  var remoteAudio = panel.querySelector("[data-voice-remote]");
  var messageAudio = panel.querySelector("[data-voice-message]");
  var muteBtn = panel.querySelector("[data-voice-mute]");
  var iceServers = [];
  try { iceServers = JSON.parse(panel.dataset.ice || "[]"); } catch (e) { iceServers = []; }

  var signalling = new V.Signalling("/phone/voice/signal", "/phone/voice/events");
  var mic = null, micAsked = null, muted = false;
  var phone = { phase: "idle", contact: null, live: false };
  var state = V.state = { call: null, remote: null, offerSeen: {}, readyTimer: null };

  function say(text) { status.textContent = text || ""; }

  function showProblem(kind) {
    problem.hidden = false;
    problem.querySelector("[data-mic-refused]").hidden = kind !== "refused";
    problem.querySelector("[data-mic-missing]").hidden = kind !== "missing";
  }

  // Asked once, on the click that dials (browsers want a person's gesture for it).
  function askMic() {
    if (micAsked) { return micAsked; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showProblem("missing");
      micAsked = Promise.resolve(null);
      return micAsked;
    }
    micAsked = navigator.mediaDevices.getUserMedia({ audio: true, video: false }).then(function (s) {
      mic = s;
      problem.hidden = true;
      return s;
    }).catch(function (err) {
      var missing = err && (err.name === "NotFoundError" || err.name === "OverconstrainedError");
      showProblem(missing ? "missing" : "refused");
      micAsked = null; // asked again on the next call
      return null;
    });
    return micAsked;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.matches) { return; }
    V.audio();
    if (form.matches(".dial-form") || form.action.indexOf("/phone/answer") >= 0) { askMic(); }
  }, true);

  function endSound() {
    if (state.call) { state.call.hangup(); state.call = null; }
    state.remote = null;
    remoteAudio.srcObject = null;
    muteBtn.hidden = true;
  }

  function accept(msg) {
    endSound();
    state.offerSeen[msg.contact_id] = true;
    var call = V.transports.webrtc({
      iceServers: iceServers, signalling: signalling,
      getMic: function () { return mic || askMic(); },
    });
    call.on("remote", function (stream) { state.remote = stream; remoteAudio.srcObject = stream; });
    call.on("state", function (s) {
      if (s === "connected") { say(phone.phase === "on_hold" ? T.hold : T.talking); }
      else if (s === "failed") { say(T.failed); }
    });
    call.on("message", function (m) {
      if (m && m.type === "hold") { say(m.on ? T.hold : T.talking); }
    });
    state.call = call;
    say(T.connecting);
    muteBtn.hidden = false;
    call.mute(muted);
    call.accept(msg.contact_id, msg.sdp).catch(function () { say(T.failed); });
  }

  signalling.on(function (msg) {
    if (msg.kind === "offer") { accept(msg); }
    else if (msg.kind === "bye") {
      if (state.call && state.call.contact() === msg.contact_id) { endSound(); }
      if (msg.text) { say(msg.text); }
      if (msg.audio) { messageAudio.src = msg.audio; messageAudio.play().catch(function () {}); }
    }
  });

  function readPhone() {
    var el = document.getElementById("phone");
    if (!el) { return; }
    var next = {
      phase: el.dataset.phase || "idle",
      contact: el.dataset.voiceContact ? parseInt(el.dataset.voiceContact, 10) : null,
      live: el.hasAttribute("data-live-call"),
    };
    var talking = next.phase === "connected" || next.phase === "on_hold";
    // The offer can come before the next poll says "connected": only a call that is over (or
    // the agent's "bye") ends the sound.
    var over = next.phase === "ended" || next.phase === "idle" || next.phase === "callback";
    if (state.call && over) { endSound(); say(""); }
    // transferred (or given back to the line): the agent's sound is gone until the next one
    var wasTalking = phone.phase === "connected" || phone.phase === "on_hold";
    if (state.call && wasTalking && next.phase === "queue") { endSound(); }
    if (talking && next.phase !== phone.phase && state.call) { say(next.phase === "on_hold" ? T.hold : T.talking); }
    // Talking with no sound here (the page was reloaded): ask the agent's desk for it again.
    if (talking && !state.call && next.contact && !state.readyTimer) {
      var contact = next.contact;
      state.readyTimer = setTimeout(function () {
        state.readyTimer = null;
        if (!state.call && !state.offerSeen[contact] && phone.contact === contact) {
          signalling.send(contact, "ready", {}).catch(function () {});
        }
      }, 3000);
    }
    phone = next;
  }

  muteBtn.addEventListener("click", function () {
    muted = !muted;
    if (state.call) { state.call.mute(muted); }
    muteBtn.setAttribute("aria-pressed", muted ? "true" : "false");
    muteBtn.textContent = muted ? T.unmute : T.mute;
    if (muted) { say(T.muted); }
  });

  // --- liveness: a heartbeat while there is a call, and a word when the page goes ------------

  function beat() {
    if (!phone.live) { return; }
    var media = state.call && state.call.pc() ? state.call.pc().connectionState : "none";
    V.post("/phone/voice/beat", { media: media }).catch(function () {});
  }
  setInterval(beat, 2000);

  window.addEventListener("pagehide", function () {
    if (!phone.live || !navigator.sendBeacon) { return; }
    var form = new FormData();
    form.append("csrf_token", V.csrf());
    navigator.sendBeacon("/phone/voice/leaving", form);
  });

  var holder = document.getElementById("phone");
  if (holder && holder.parentNode) {
    new MutationObserver(readPhone).observe(holder.parentNode, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-phase"] });
  }
  signalling.start();
  readPhone();
  if (phone.live) { beat(); }
})();
