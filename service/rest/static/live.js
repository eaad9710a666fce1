// The live view: list the cameras, show the chosen one's two MJPEG streams, refresh the stats.
"use strict";
const query = new URLSearchParams(location.search);
const key = query.get("key");
const select = document.getElementById("camera");
const stats = document.getElementById("stats");
let chosen = query.get("camera") || "";

function url(path, params = {}) {
  const all = new URLSearchParams(params);
  if (key) all.set("key", key);
  const text = all.toString();
  return path + (text ? "?" + text : "");
}

function show(camera) {
  chosen = camera;
  for (const side of ["input", "output"]) {
    const img = document.getElementById(side);
    if (camera) img.src = url("/live/" + encodeURIComponent(camera) + "/stream", {side});
    else img.removeAttribute("src");
  }
}

async function refresh() {
  const reply = await fetch(url("/live/cameras"));
  if (!reply.ok) { stats.textContent = "cameras: HTTP " + reply.status; return; }
  const cameras = await reply.json();
  const ids = cameras.map((c) => c.id);
  if (ids.join("\n") !== [...select.options].map((o) => o.value).join("\n")) {
    select.replaceChildren(...cameras.map((c) => new Option(c.id, c.id)));
  }
  if (!chosen && ids.length) show(ids[0]);
  select.value = chosen;
  const camera = cameras.find((c) => c.id === chosen);
  stats.textContent = camera
    ? `gain ${camera.gain === null ? "-" : camera.gain.toFixed(1)} · ${camera.fps.toFixed(1)} fps`
      + ` · ${camera.width}x${camera.height} · seen ${camera.last_seen_s.toFixed(1)} s ago`
    : "no frames from " + (chosen || "any camera") + " yet";
}

for (const side of ["input", "output"]) {  // a camera not sending yet: try again
  document.getElementById(side).addEventListener("error", () => setTimeout(() => show(chosen), 1000));
}
select.addEventListener("change", () => show(select.value));
if (chosen) show(chosen);
refresh();
setInterval(() => refresh().catch((e) => { stats.textContent = String(e); }), 1000);
