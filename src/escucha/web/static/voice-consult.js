// A warm transfer's sound (ADR 24): while the customer waits on hold (hearing the hold music
// from the first agent's desk), the two agents' desks talk browser to browser. escucha relays
// the session descriptions (/agent/voice/consult-signal) and nothing else. On hand-over the
// consult closes, and the second agent's desk gives the customer its own sound (an offer to
// the caller's page, as for any call it takes); on cancel the first agent is back with them.
// A consult about a call on the PBX (data-consult-line="pbx") goes through the agents' phones,
// bridged by escucha over ARI: the desks then carry no sound of their own.
(function () {
  "use strict";
  var V = window.EscuchaVoice;
  var panel = document.querySelector("[data-softphone]");
  if (!V || !V.agentSignalling || !panel) { return; }
  var iceServers = [];
  try { iceServers = JSON.parse(panel.dataset.ice || "[]"); } catch (e) { iceServers = []; }
  var micSel = panel.querySelector("[data-sp-mic]");
  var audio = document.createElement("audio");
  audio.autoplay = true;
  audio.setAttribute("data-sp-consult-remote", "");
  panel.appendChild(audio);
  var state = V.consultState = { id: null, role: null, call: null, stopRing: null, remote: null };
  var pending = {};

  function signalling(consultId) {
    return {
      send: function (ignored, kind, body) {
        return V.post("/agent/voice/consult-signal", { consult_id: consultId, kind: kind, body: body || {} });
      },
    };
  }

  function getMic() {
    var pick = micSel && micSel.value ? { deviceId: { exact: micSel.value } } : true;
    return navigator.mediaDevices.getUserMedia({ audio: pick, video: false });
  }

  function newCall(id) {
    var call = V.transports.webrtc({ iceServers: iceServers, signalling: signalling(id), getMic: getMic });
    call.on("remote", function (stream) { state.remote = stream; audio.srcObject = stream; });
    return call;
  }

  function stop() {
    if (state.call) { state.call.hangup(); state.call = null; }
    if (state.stopRing) { state.stopRing(); state.stopRing = null; }
    state.remote = null;
    audio.srcObject = null;
  }

  function take(msg) {
    stop();
    state.call = newCall(state.id);
    state.call.accept(state.id, msg.sdp).catch(function () {});
  }

  function read() {
    var el = document.querySelector("#desk-live .desk");
    var d = el ? el.dataset : {};
    var id = d.consultId ? parseInt(d.consultId, 10) : null;
    var answered = d.consultAnswered === "yes";
    if (id !== state.id) { stop(); state.id = id; state.role = d.consultRole || null; }
    if (!id || d.consultLine === "pbx") { return; }
    var ringing = state.role === "to" && !answered;
    if (ringing && !state.stopRing) { state.stopRing = V.ring(); }
    if (!ringing && state.stopRing) { state.stopRing(); state.stopRing = null; }
    if (state.role === "from" && answered && !state.call) {
      state.call = newCall(id);
      state.call.start(id).catch(function () {});
    }
    if (state.role === "to" && pending[id] && !state.call) { take(pending[id]); delete pending[id]; }
  }

  V.agentSignalling.on(function (msg) {
    if (msg.kind === "consult_offer") {
      if (msg.consult_id === state.id && state.role === "to") { take(msg); } else { pending[msg.consult_id] = msg; }
    } else if (msg.kind === "consult_answer" && msg.consult_id === state.id && state.call) {
      state.call.answered(msg.sdp);
    } else if (msg.kind === "consult_bye" && msg.consult_id === state.id) {
      stop();
    }
  });

  var live = document.getElementById("desk-live");
  if (live) { new MutationObserver(read).observe(live, { childList: true, subtree: true }); }
  read();
})();
