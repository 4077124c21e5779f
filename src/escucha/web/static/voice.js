// escucha voice: what a softphone needs whatever the page (ADR 16).
//
// - Signalling: POST to send, an EventSource to receive (escucha is the signalling server).
// - Sounds made in the page with WebAudio: ring, keypad tones, hold music. No sound file.
// - Meters (an AnalyserNode's level) and connection quality (RTCPeerConnection.getStats).
// - Transports. Every transport has the same shape, so the desk's buttons never change:
//
//     var call = EscuchaVoice.transports.webrtc(options)   // options below
//     call.start(contactId)          agent: place the sound of this contact (an offer)
//     call.accept(contactId, sdp)    caller: take the agent's offer
//     call.answered(sdp)             agent: the caller's answer arrived
//     call.hold(on)                  agent: the customer hears hold music instead of the agent
//     call.mute(on)                  this side's microphone sends silence
//     call.dtmf(key)                 a keypad tone to the other side
//     call.hangup()                  close this side's sound
//     call.quality()                 Promise of {loss, jitter, rtt} (null when unknown)
//     call.on("remote" | "state" | "message", fn)
//
//   "webrtc" is browser to browser through escucha's signalling. A SIP-over-WebSocket
//   transport (JsSIP, to the organisation's PBX) and a Twilio Voice SDK transport (with an
//   access token for the agent's identity) implement the same functions and register
//   themselves in EscuchaVoice.transports; the desk picks one by the contact's
//   data-voice-transport.
(function () {
  "use strict";

  var V = (window.EscuchaVoice = window.EscuchaVoice || {});
  V.transports = V.transports || {};

  V.csrf = function () {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  };

  V.post = function (url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": V.csrf() },
      body: JSON.stringify(data || {}),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { throw new Error((body && body.detail) || ("HTTP " + r.status)); }
        return body;
      });
    });
  };

  V.texts = function (id) {
    var el = document.getElementById(id);
    try { return el ? JSON.parse(el.textContent) : {}; } catch (e) { return {}; }
  };

  V.format = function (text, fields) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) { return k in fields ? fields[k] : m; });
  };

  // --- signalling ---------------------------------------------------------------------------

  V.Signalling = function (sendUrl, eventsUrl) {
    var self = this;
    this.handlers = [];
    this.send = function (contactId, kind, body) {
      return V.post(sendUrl, { contact_id: contactId, kind: kind, body: body || {} });
    };
    this.on = function (fn) { self.handlers.push(fn); };
    this.start = function () {
      if (self.source) { return; }
      self.source = new EventSource(eventsUrl);
      self.source.addEventListener("signal", function (event) {
        var msg;
        try { msg = JSON.parse(event.data); } catch (e) { return; }
        self.handlers.forEach(function (fn) { fn(msg); });
      });
    };
  };

  // --- sounds made in the page --------------------------------------------------------------

  var ctx = null;
  V.audio = function () {
    var Ctor = window.AudioContext || window.webkitAudioContext;
    if (!ctx && Ctor) { ctx = new Ctor(); }
    if (ctx && ctx.state === "suspended") { ctx.resume(); }
    return ctx;
  };

  function tone(freqs, seconds, gainValue, destination) {
    var ac = V.audio();
    if (!ac) { return; }
    var gain = ac.createGain();
    gain.gain.value = gainValue;
    gain.connect(destination || ac.destination);
    var t = ac.currentTime;
    freqs.forEach(function (f) {
      var osc = ac.createOscillator();
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start(t);
      osc.stop(t + seconds);
    });
  }

  var DTMF = {
    "1": [697, 1209], "2": [697, 1336], "3": [697, 1477],
    "4": [770, 1209], "5": [770, 1336], "6": [770, 1477],
    "7": [852, 1209], "8": [852, 1336], "9": [852, 1477],
    "*": [941, 1209], "0": [941, 1336], "#": [941, 1477],
  };
  V.dtmfTone = function (key) { if (DTMF[key]) { tone(DTMF[key], 0.15, 0.12); } };

  // The ring of an offered call: 425 Hz, 1 s on, 3 s off (the European ring-back cadence).
  V.ring = function () {
    tone([425], 1.0, 0.15);
    var timer = setInterval(function () { tone([425], 1.0, 0.15); }, 4000);
    return function () { clearInterval(timer); };
  };

  // Hold music as a stream: a slow, soft arpeggio (A minor), never the agent's voice.
  V.holdMusic = function () {
    var ac = V.audio();
    if (!ac || !ac.createMediaStreamDestination) { return null; }
    var dest = ac.createMediaStreamDestination();
    var notes = [220, 261.63, 329.63, 392, 329.63, 261.63];
    var i = 0;
    function next() { tone([notes[i % notes.length]], 0.45, 0.2, dest); i += 1; }
    next();
    var timer = setInterval(next, 500);
    return { stream: dest.stream, stop: function () { clearInterval(timer); } };
  };

  // --- meters and quality -------------------------------------------------------------------

  V.level = function (stream, meter) {
    var ac = V.audio();
    if (!ac || !stream || !meter) { return { stop: function () {}, peak: function () { return 0; } }; }
    var src = ac.createMediaStreamSource(stream);
    var an = ac.createAnalyser();
    an.fftSize = 1024;
    src.connect(an);
    var buf = new Float32Array(an.fftSize);
    var peak = 0;
    var timer = setInterval(function () {
      an.getFloatTimeDomainData(buf);
      var sum = 0;
      for (var i = 0; i < buf.length; i++) { sum += buf[i] * buf[i]; }
      var rms = Math.sqrt(sum / buf.length);
      peak = Math.max(peak, rms);
      meter.value = Math.min(1, rms * 4);
    }, 100);
    return {
      stop: function () { clearInterval(timer); try { src.disconnect(); } catch (e) {} meter.value = 0; },
      peak: function () { return peak; },
    };
  };

  V.stats = function (pc, last) {
    return pc.getStats().then(function (report) {
      var out = { loss: null, jitter: null, rtt: null };
      report.forEach(function (s) {
        if (s.type === "inbound-rtp" && s.kind === "audio") {
          var lost = s.packetsLost || 0, got = s.packetsReceived || 0;
          var dl = lost - (last.lost || 0), dg = got - (last.got || 0);
          out.loss = dl + dg > 0 ? Math.max(0, dl) / (dl + dg) : 0;
          out.jitter = typeof s.jitter === "number" ? s.jitter : null;
          last.lost = lost; last.got = got;
        }
        if (s.type === "candidate-pair" && s.nominated && typeof s.currentRoundTripTime === "number") {
          out.rtt = s.currentRoundTripTime;
        }
      });
      return out;
    });
  };

  V.poor = function (q, bounds) {
    return (q.loss !== null && q.loss > bounds.loss) ||
      (q.jitter !== null && q.jitter > bounds.jitter) ||
      (q.rtt !== null && q.rtt > bounds.rtt);
  };

  // --- the WebRTC transport -----------------------------------------------------------------

  function gathered(pc, ms) {
    if (pc.iceGatheringState === "complete") { return Promise.resolve(); }
    return new Promise(function (resolve) {
      var done = false;
      function finish() { if (!done) { done = true; resolve(); } }
      pc.addEventListener("icegatheringstatechange", function () {
        if (pc.iceGatheringState === "complete") { finish(); }
      });
      setTimeout(finish, ms);
    });
  }

  // options: {iceServers, signalling, getMic: () => Promise<MediaStream|null>}
  V.transports.webrtc = function (options) {
    var handlers = { remote: [], state: [], message: [] };
    var pc = null, dc = null, sender = null, mic = null, hold = null, muted = false;
    var contact = null, last = {};
    function emit(name, value) { handlers[name].forEach(function (fn) { fn(value); }); }

    function fresh() {
      close();
      pc = new RTCPeerConnection({ iceServers: options.iceServers || [] });
      pc.ontrack = function (e) { emit("remote", e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track])); };
      pc.onconnectionstatechange = function () { emit("state", pc ? pc.connectionState : "closed"); };
      last = {};
      return pc;
    }

    function wire(channel) {
      dc = channel;
      dc.onmessage = function (e) {
        var msg; try { msg = JSON.parse(e.data); } catch (x) { return; }
        if (msg && msg.type === "dtmf") { V.dtmfTone(msg.key); }
        emit("message", msg);
      };
    }

    function withMic() {
      return Promise.resolve(options.getMic()).catch(function () { return null; }).then(function (stream) {
        mic = stream;
        return stream;
      });
    }

    function addMic(stream) {
      var track = stream ? stream.getAudioTracks()[0] : null;
      if (track) {
        track.enabled = !muted;
        sender = pc.addTrack(track, stream);
      } else {
        pc.addTransceiver("audio", { direction: "recvonly" });
      }
    }

    function close() {
      if (hold) { hold.stop(); hold = null; }
      if (dc) { try { dc.close(); } catch (e) {} dc = null; }
      if (pc) { try { pc.close(); } catch (e) {} pc = null; }
      sender = null;
    }

    var call = {
      contact: function () { return contact; },
      pc: function () { return pc; },
      start: function (contactId) {
        contact = contactId;
        var p = fresh();
        wire(p.createDataChannel("escucha"));
        return withMic().then(function (stream) {
          if (p !== pc) { return; }
          addMic(stream);
          return p.createOffer();
        }).then(function (offer) {
          if (!offer || p !== pc) { return; }
          return p.setLocalDescription(offer).then(function () { return gathered(p, 2500); }).then(function () {
            return options.signalling.send(contactId, "offer", { sdp: p.localDescription.sdp });
          });
        });
      },
      accept: function (contactId, sdp) {
        contact = contactId;
        var p = fresh();
        p.ondatachannel = function (e) { wire(e.channel); };
        return p.setRemoteDescription({ type: "offer", sdp: sdp }).then(withMic).then(function (stream) {
          if (p !== pc) { return; }
          addMic(stream);
          return p.createAnswer();
        }).then(function (answer) {
          if (!answer || p !== pc) { return; }
          return p.setLocalDescription(answer).then(function () { return gathered(p, 2500); }).then(function () {
            return options.signalling.send(contactId, "answer", { sdp: p.localDescription.sdp });
          });
        });
      },
      answered: function (sdp) {
        if (pc && pc.signalingState === "have-local-offer") {
          return pc.setRemoteDescription({ type: "answer", sdp: sdp });
        }
        return Promise.resolve();
      },
      hold: function (on) {
        var track = mic ? mic.getAudioTracks()[0] : null;
        if (on && !hold) {
          hold = V.holdMusic();
          if (sender) { sender.replaceTrack(hold ? hold.stream.getAudioTracks()[0] : null); }
        } else if (!on && hold) {
          hold.stop(); hold = null;
          if (sender) { sender.replaceTrack(track); }
        }
        if (dc && dc.readyState === "open") { dc.send(JSON.stringify({ type: "hold", on: !!on })); }
      },
      holding: function () { return !!hold; },
      mute: function (on) {
        muted = !!on;
        if (mic) { mic.getAudioTracks().forEach(function (t) { t.enabled = !muted; }); }
      },
      dtmf: function (key) {
        V.dtmfTone(key);
        if (sender && sender.dtmf && sender.track) { try { sender.dtmf.insertDTMF(key, 120, 60); } catch (e) {} }
        if (dc && dc.readyState === "open") { dc.send(JSON.stringify({ type: "dtmf", key: key })); }
      },
      hangup: function () { close(); contact = null; emit("state", "closed"); },
      quality: function () { return pc ? V.stats(pc, last) : Promise.resolve(null); },
      on: function (name, fn) { handlers[name].push(fn); },
    };
    return call;
  };
})();
