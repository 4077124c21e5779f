// The agent desk's softphone. The desk (redrawn live from the server) says what the contact is
// doing; the softphone makes the sound follow it: a ring while offered, the sound once
// connected, hold music instead of the agent's voice while on hold, nothing once it ends.
// Buttons that change the contact (answer, hold, transfer, end) are the desk's own.
(function () {
  "use strict";
  var V = window.EscuchaVoice;
  var panel = document.querySelector("[data-softphone]");
  if (!V || !panel) { return; }
  var T = V.texts("sp-text");
  var $ = function (sel) { return panel.querySelector(sel); };
  var status = $("[data-sp-status]"), micSel = $("[data-sp-mic]"), spkSel = $("[data-sp-speaker]");
  var micMeter = $("[data-sp-mic-level]"), remoteMeter = $("[data-sp-remote-level]");
  var micResult = $("[data-sp-mic-result]"), muteBtn = $("[data-sp-mute]");
  var qualityEl = $("[data-sp-quality]"), warning = $("[data-sp-warning]");
  var remoteAudio = $("[data-sp-remote]");
  var bounds = {
    loss: parseFloat(panel.dataset.poorLoss), jitter: parseFloat(panel.dataset.poorJitter),
    rtt: parseFloat(panel.dataset.poorRtt),
  };
  var iceServers = [];
  try { iceServers = JSON.parse(panel.dataset.ice || "[]"); } catch (e) { iceServers = []; }

  var signalling = V.agentSignalling = new V.Signalling("/agent/voice/signal", "/agent/voice/events");
  var micOk = false, stopRing = null, remoteLevel = null, muted = false;
  var desk = { contact: null, state: null, transport: null, channel: null };
  var state = V.state = { call: null, remote: null };

  function say(text) { status.textContent = text; }

  function getMic() {
    var constraints = micSel.value ? { deviceId: { exact: micSel.value } } : true;
    return navigator.mediaDevices.getUserMedia({ audio: constraints, video: false }).then(function (s) {
      state.mic = s;
      return s;
    });
  }

  function fillDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) { return; }
    navigator.mediaDevices.enumerateDevices().then(function (devices) {
      [[micSel, "audioinput"], [spkSel, "audiooutput"]].forEach(function (pair) {
        var sel = pair[0], chosen = sel.value;
        while (sel.options.length > 1) { sel.remove(1); }
        devices.filter(function (d) { return d.kind === pair[1] && d.deviceId && d.deviceId !== "default"; })
          .forEach(function (d, i) {
            var opt = document.createElement("option");
            opt.value = d.deviceId;
            opt.textContent = d.label || (pair[1] + " " + (i + 1));
            sel.appendChild(opt);
          });
        sel.value = chosen;
      });
    });
  }

  // --- the microphone test (before going available) ----------------------------------------

  function testMic() {
    V.audio();
    micResult.textContent = "…";
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      micResult.textContent = T.mic_refused; return Promise.resolve(false);
    }
    return getMic().then(function (stream) {
      fillDevices();
      var meter = V.level(stream, micMeter);
      return new Promise(function (resolve) {
        setTimeout(function () {
          var peak = meter.peak();
          meter.stop();
          stream.getTracks().forEach(function (t) { t.stop(); });
          micOk = peak > 0.003;
          micResult.textContent = micOk ? T.mic_ok : T.mic_silent;
          panel.classList.toggle("mic-ok", micOk);
          beat();
          resolve(micOk);
        }, 1500);
      });
    }).catch(function (err) {
      micOk = false;
      micResult.textContent = err && err.name === "NotFoundError" ? T.mic_missing : T.mic_refused;
      return false;
    });
  }
  $("[data-sp-test]").addEventListener("click", testMic);

  // Going available with an untested microphone: test it first (the state changes anyway).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var field = form && form.querySelector ? form.querySelector("input[name=state]") : null;
    if (field && field.value === "available" && !micOk && panel.dataset.phone !== "desk") { testMic(); }
    V.audio(); // a click: the page may play sounds from now on
  }, true);

  spkSel.addEventListener("change", function () {
    if (remoteAudio.setSinkId) { remoteAudio.setSinkId(spkSel.value || "").catch(function () {}); }
  });
  micSel.addEventListener("change", function () { micOk = false; micResult.textContent = T.mic_untested; });

  // --- the recording (ADR 15): both sides here, sent in 5 s pieces as they come ------------
  // Two channels, as contact centers record: the agent on the first (left), the customer on
  // the second (right), so the transcription tells who said what by channel.
  // Each recorder this desk starts is a leg of the call's recording: the server numbers it,
  // and its pieces go under that number. A call handed over is recorded on, as a new leg, by
  // the desk that takes it.

  var recording = null;

  function startRecording(contact, remote) {
    if (!panel.hasAttribute("data-record") || desk.record === "no" || recording || !window.MediaRecorder) { return; }
    var ac = V.audio();
    var out = ac.createMediaStreamDestination();
    out.channelCount = 2;
    var sides = ac.createChannelMerger(2);
    sides.connect(out);
    var gains = [state.mic, remote].map(function (stream, channel) {
      if (!stream || !stream.getAudioTracks().length) { return null; }
      var gain = ac.createGain();
      ac.createMediaStreamSource(stream).connect(gain);
      gain.connect(sides, 0, channel);  // each side mixed down to its one channel
      return gain;
    });
    var type = MediaRecorder.isTypeSupported("audio/webm;codecs=opus") ? "audio/webm;codecs=opus" : "audio/webm";
    var rec = new MediaRecorder(out.stream, { mimeType: type });
    var seq = 0, chain = startLeg(contact, type, 3);
    recording = { rec: rec, contact: contact, remote: remote, micGain: gains[0], done: null };
    rec.ondataavailable = function (e) {
      if (!e.data || !e.data.size) { return; }
      var n = seq++;
      chain = chain.then(function (leg) {
        return leg ? sendPiece(contact, leg, n, e.data, type, 3).then(function () { return leg; }) : null;
      });
    };
    recording.done = new Promise(function (resolve) { rec.onstop = function () { chain.then(resolve, resolve); }; });
    rec.start(5000);
  }

  function retry(tries, again) {
    if (tries <= 1) { return null; }
    return new Promise(function (ok) { setTimeout(ok, 1000); }).then(again);
  }

  function startLeg(contact, type, tries) {
    // resolves to the leg's number, or null when the server records nothing of this call
    return fetch("/agent/voice/recording/" + contact, {
      method: "POST", credentials: "same-origin", body: JSON.stringify({ type: type }),
      headers: { "Content-Type": "application/json", "X-CSRF-Token": V.csrf() },
    }).then(function (r) {
      if (r.ok) { return r.json().then(function (body) { return body.leg; }); }
      return r.status >= 500 ? retry(tries, function () { return startLeg(contact, type, tries - 1); }) : null;
    }).catch(function () { return retry(tries, function () { return startLeg(contact, type, tries - 1); }); });
  }

  function sendPiece(contact, leg, n, blob, type, tries) {
    return fetch("/agent/voice/recording/" + contact + "/" + leg + "/" + n, {
      method: "POST", credentials: "same-origin", body: blob,
      headers: { "Content-Type": type, "X-CSRF-Token": V.csrf() },
    }).then(function (r) {
      if (!r.ok && r.status >= 500 && tries > 1) { return sendPiece(contact, leg, n, blob, type, tries - 1); }
    }).catch(function () {
      return retry(tries, function () { return sendPiece(contact, leg, n, blob, type, tries - 1); });
    });
  }

  function recordHold(on) {
    // on hold the recording keeps the customer's side and the music, never the agent's aside
    if (recording && recording.micGain) { recording.micGain.gain.value = on ? 0 : 1; }
  }

  function stopRecording() {
    if (!recording) { return; }
    try { recording.rec.stop(); } catch (e) {}
    V.recorded = recording.done;
    recording = null;
  }

  // --- the call -----------------------------------------------------------------------------

  function newCall() {
    var make = V.transports[desk.transport] || V.transports.webrtc;  // by data-voice-transport
    var call = make({ iceServers: iceServers, signalling: signalling, getMic: getMic });
    call.on("remote", function (stream) {
      state.remote = stream;
      remoteAudio.srcObject = stream;
      if (remoteLevel) { remoteLevel.stop(); }
      remoteLevel = V.level(stream, remoteMeter);
      if (desk.contact) {
        // a new connection (the caller's page was reloaded) brings a new stream: a new leg
        if (recording && recording.remote !== stream) { stopRecording(); }
        startRecording(desk.contact, stream);
        recordHold(desk.state === "on_hold");
      }
    });
    call.on("state", function (s) {
      if (s === "connected") { say(desk.state === "on_hold" ? T.hold : (muted ? T.muted : T.talking)); }
      else if (s === "failed") { say(T.failed); }
    });
    return call;
  }

  function endCall() {
    if (!state.call) { return; }
    var contact = state.call.contact();
    stopRecording();
    state.call.hangup();
    if (contact) { signalling.send(contact, "bye", { reason: "agent_hung_up" }).catch(function () {}); }
    state.call = null; state.remote = null;
    if (remoteLevel) { remoteLevel.stop(); remoteLevel = null; }
    remoteAudio.srcObject = null;
    muted = false;
    muteBtn.disabled = true; muteBtn.setAttribute("aria-pressed", "false"); muteBtn.textContent = T.mute;
    qualityEl.textContent = ""; warning.hidden = true;
  }

  function apply(next) {
    var changed = next.contact !== desk.contact || next.state !== desk.state;
    desk = next;
    var ringing = next.state === "offered" && next.channel !== "callback";
    if (ringing && !stopRing) { stopRing = V.ring(); say(T.ringing); }
    if (!ringing && stopRing) { stopRing(); stopRing = null; }
    if (V.phone) { return; } // the PBX calls this desk's SIP phone: voice-sip.js carries the sound
    var live = next.state === "connected" || next.state === "on_hold";
    if (state.call && (!live || state.call.contact() !== next.contact)) { endCall(); if (!live) { say(next.contact ? T.ended : T.idle); } }
    if (!live) { if (!ringing && !next.contact) { say(T.idle); } return; }
    if (!next.transport || !V.transports[next.transport]) { if (changed) { say(T.no_sound); } return; }
    if (!state.call) {
      state.call = newCall();
      say(T.connecting);
      muteBtn.disabled = false;
      state.call.start(next.contact).then(function () {
        if (state.call) { state.call.hold(desk.state === "on_hold"); recordHold(desk.state === "on_hold"); }
      }).catch(function () { say(T.failed); });
    } else if (changed) {
      state.call.hold(next.state === "on_hold");
      recordHold(next.state === "on_hold");
      say(next.state === "on_hold" ? T.hold : (muted ? T.muted : T.talking));
    }
  }

  function readDesk() {
    var el = document.querySelector("#desk-live .desk");
    var d = el ? el.dataset : {};
    apply({
      contact: d.voiceContact ? parseInt(d.voiceContact, 10) : null,
      state: d.voiceState || null,
      transport: d.voiceTransport || null,
      channel: d.voiceChannel || null,
      record: d.voiceRecord || null,
    });
  }

  signalling.on(function (msg) {
    var call = state.call;
    if (!call || msg.contact_id !== call.contact()) { return; }
    if (msg.kind === "answer") { call.answered(msg.sdp); }
    else if (msg.kind === "ready") {
      // the caller's page was reloaded: give it the sound again
      state.call.start(msg.contact_id).then(function () { if (state.call) { state.call.hold(desk.state === "on_hold"); } });
    } else if (msg.kind === "bye") { call.hangup(); }
  });

  muteBtn.addEventListener("click", function () {
    if (!state.call) { return; }
    muted = !muted;
    state.call.mute(muted);
    muteBtn.setAttribute("aria-pressed", muted ? "true" : "false");
    muteBtn.textContent = muted ? T.unmute : T.mute;
    if (desk.state !== "on_hold") { say(muted ? T.muted : T.talking); }
  });

  panel.querySelectorAll("[data-sp-key]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var key = btn.getAttribute("data-sp-key");
      if (state.call) { state.call.dtmf(key); } else { V.dtmfTone(key); }
    });
  });

  // --- quality, heartbeat -------------------------------------------------------------------

  setInterval(function () {
    if (!state.call) { return; }
    state.call.quality().then(function (q) {
      if (!q) { return; }
      var fmt = function (v, k) { return v === null ? "—" : (v * k).toFixed(0); };
      qualityEl.textContent = V.format(T.quality, {
        loss: q.loss === null ? "—" : (q.loss * 100).toFixed(1) + " %",
        jitter: fmt(q.jitter, 1000), rtt: fmt(q.rtt, 1000),
      });
      var poor = V.poor(q, bounds);
      warning.hidden = !poor;
      warning.textContent = poor ? T.poor : "";
    }).catch(function () {});
  }, 2000);

  // The open signalling stream keeps this desk alive on the server (ADR 16): the page beats
  // when what a beat carries changes (the microphone's test, a new device), and every 20 s
  // only while no stream is open or the last beat failed. Looked at every 2 s in the page,
  // which sends nothing else.
  var sentMic = null, beatAt = 0, beatFailed = false;
  function beat() {
    sentMic = micOk; beatAt = Date.now(); beatFailed = false;
    V.post("/agent/voice/beat", { mic_ok: micOk }).catch(function () { beatFailed = true; });
  }
  function streamOpen() {
    return !!(signalling.source && signalling.source.readyState === 1);  // EventSource.OPEN
  }
  beat();
  setInterval(function () {
    var fallback = beatFailed || !streamOpen();
    if (micOk !== sentMic || (fallback && Date.now() - beatAt >= 20000)) { beat(); }
  }, 2000);

  var live = document.getElementById("desk-live");
  if (live) { new MutationObserver(readDesk).observe(live, { childList: true, subtree: true }); }
  signalling.start();
  readDesk();
  fillDevices();
})();
