/* Scanner stations: a short high tone when a scan went through, a low double tone when it was
   refused, so the clerk does not need to look at the screen. Browsers allow sound after the
   first key press or click on the page, which a scanner's Enter is. */
(function () {
  var bad = document.querySelector('.scan--bad, .flash--bad, .message--error');
  var ok = document.querySelector('.message--success');
  if (!bad && !ok) { return; }
  var Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) { return; }
  try {
    var ctx = new Ctx();
    var tones = bad ? [[220, 0], [180, 0.18]] : [[880, 0]];
    tones.forEach(function (tone) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = tone[0];
      gain.gain.value = 0.08;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(ctx.currentTime + tone[1]);
      osc.stop(ctx.currentTime + tone[1] + 0.14);
    });
  } catch (e) { /* no sound: the colour cue remains */ }
})();
