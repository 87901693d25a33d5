// The show site's behaviour: subscribe box, index play buttons, and on an episode page the
// player, chapters and a transcript that follows the audio. Plain JS, nothing fetched.
(() => {
  "use strict";
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  const pad = (n) => String(n).padStart(2, "0");
  const clock = (seconds) => {
    const s = Math.max(0, Math.floor(seconds || 0));
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s % 60);
  };
  const copy = (text, status) => {
    const done = () => { status.textContent = "Copied"; setTimeout(() => (status.textContent = ""), 3000); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => (status.textContent = "Copy failed: select and copy it"));
    } else {
      const field = document.createElement("textarea");
      field.value = text;
      document.body.append(field);
      field.select();
      const ok = document.execCommand("copy");
      field.remove();
      ok ? done() : (status.textContent = "Select the address and copy it");
    }
  };

  // Subscribe box: served over http(s), the feed lives beside this page.
  const feed = $("#feed-url");
  if (feed) {
    if (/^https?:$/.test(location.protocol)) feed.value = new URL("feed.xml", location.href).href;
    const bare = feed.value.replace(/^[a-z]+:\/\//i, "");
    $$("[data-scheme]").forEach((link) => (link.href = link.dataset.scheme + bare));
    $("#copy-feed").addEventListener("click", () => copy(feed.value, $("#copy-status")));
    feed.addEventListener("focus", () => feed.select());
  }

  // Index: one shared player for every episode's play button.
  const shared = $("#index-player");
  if (shared) {
    const buttons = $$("button.play");
    const sync = () => buttons.forEach((button) => {
      const playing = !shared.paused && shared.dataset.src === button.dataset.src;
      button.setAttribute("aria-pressed", String(playing));
      button.setAttribute("aria-label", (playing ? "Pause " : "Play ") + button.dataset.title);
      button.firstElementChild.textContent = playing ? "❚❚" : "▶";
    });
    buttons.forEach((button) => button.addEventListener("click", () => {
      if (shared.dataset.src === button.dataset.src) {
        shared.paused ? shared.play().catch(() => {}) : shared.pause();
        return;
      }
      shared.dataset.src = button.dataset.src;
      shared.src = button.dataset.src;
      $("#now-title").textContent = button.dataset.title;
      $("#now-playing").hidden = false;
      shared.play().catch(() => {});
    }));
    ["play", "pause", "ended"].forEach((name) => shared.addEventListener(name, sync));
  }

  // Episode page.
  const audio = $("#audio");
  const dataNode = $("#episode-data");
  if (!audio || !dataNode) return;
  const data = JSON.parse(dataNode.textContent);
  const box = $("#transcript");
  const lineNodes = $$("#transcript > li");
  const chapterNodes = $$("#chapters > li");
  const play = $("#play"), seekBar = $("#seek"), now = $("#now"), follow = $("#follow");
  const reduced = matchMedia("(prefers-reduced-motion: reduce)").matches;
  let currentLine = -1, currentChapter = -1, currentWord = null, dragging = false;

  // Our own controls replace the native ones once this script runs.
  audio.controls = false;
  $("#controls").hidden = false;
  $("#keys").hidden = false;

  // Word timings, when the build has them: one span per word.
  data.lines.forEach((line, i) => {
    if (!line.words || !line.words.length) return;
    const text = $(".text", lineNodes[i]);
    text.textContent = "";
    line.words.forEach(([, , word], j) => {
      if (j) text.append(" ");
      const span = document.createElement("span");
      span.className = "w";
      span.textContent = word;
      text.append(span);
    });
  });

  const lineAt = (t) => {  // the latest line started and not yet ended
    let found = -1;
    for (let i = 0; i < data.lines.length && data.lines[i].start <= t; i++) {
      if (t < data.lines[i].end) found = i;
    }
    return found;
  };
  const chapterAt = (t) => {
    let found = data.chapters.length ? 0 : -1;
    data.chapters.forEach((chapter, i) => { if (chapter.start <= t) found = i; });
    return found;
  };
  const mark = (nodes, old, index) => {
    if (old >= 0 && nodes[old]) { nodes[old].classList.remove("current"); nodes[old].removeAttribute("aria-current"); }
    if (index >= 0 && nodes[index]) { nodes[index].classList.add("current"); nodes[index].setAttribute("aria-current", "true"); }
    return index;
  };
  const scrollTo = (node) => {
    if (!follow.checked || node.hidden) return;
    const top = node.offsetTop - box.clientHeight / 3;
    box.scrollTo({ top: Math.max(0, top), behavior: reduced ? "auto" : "smooth" });
  };
  const render = (t) => {
    const line = lineAt(t);
    if (line !== currentLine) {
      currentLine = mark(lineNodes, currentLine, line);
      if (line >= 0) scrollTo(lineNodes[line]);
    }
    const chapter = chapterAt(t);
    if (chapter !== currentChapter) currentChapter = mark(chapterNodes, currentChapter, chapter);
    let word = null;
    if (line >= 0 && data.lines[line].words) {
      const index = data.lines[line].words.findIndex(([s, e]) => s <= t && t < e);
      word = index >= 0 ? $$(".w", lineNodes[line])[index] : null;
    }
    if (word !== currentWord) {
      if (currentWord) currentWord.classList.remove("now");
      if (word) word.classList.add("now");
      currentWord = word;
    }
    now.textContent = clock(t);
    if (!dragging) seekBar.value = String(Math.floor(t));
  };
  const seek = (t, start) => {
    const target = Math.min(Math.max(0, t), data.duration || audio.duration || t);
    audio.currentTime = target;
    render(target);
    if (start) audio.play().catch(() => {});
  };
  const frame = () => { render(audio.currentTime); if (!audio.paused) requestAnimationFrame(frame); };

  const label = () => {
    const playing = !audio.paused;
    play.textContent = playing ? "Pause" : "Play";
    play.setAttribute("aria-label", playing ? "Pause" : "Play");
  };
  audio.addEventListener("play", () => { label(); requestAnimationFrame(frame); });
  audio.addEventListener("pause", label);
  audio.addEventListener("ended", label);
  ["timeupdate", "seeked"].forEach((name) => audio.addEventListener(name, () => render(audio.currentTime)));
  play.addEventListener("click", () => (audio.paused ? audio.play().catch(() => {}) : audio.pause()));
  $("#back").addEventListener("click", () => seek(audio.currentTime - 15));
  $("#forward").addEventListener("click", () => seek(audio.currentTime + 15));
  $("#speed").addEventListener("change", (event) => (audio.playbackRate = Number(event.target.value)));
  seekBar.addEventListener("input", () => { dragging = true; now.textContent = clock(seekBar.value); });
  seekBar.addEventListener("change", () => { dragging = false; seek(Number(seekBar.value)); });
  seekBar.setAttribute("aria-valuetext", "0:00");
  audio.addEventListener("timeupdate", () => seekBar.setAttribute("aria-valuetext", clock(audio.currentTime)));

  chapterNodes.forEach((node, i) => $("button", node).addEventListener("click", () => seek(data.chapters[i].start, true)));
  box.addEventListener("click", (event) => {
    const node = event.target.closest("li");
    if (!node || (String(getSelection()) && !event.target.closest("button"))) return;  // selecting text
    seek(data.lines[lineNodes.indexOf(node)].start, true);
  });

  // Search: show only the lines that contain the words typed (speaker names included).
  const search = $("#search"), found = $("#found");
  search.addEventListener("input", () => {
    const query = search.value.trim().toLowerCase();
    let shown = 0;
    lineNodes.forEach((node, i) => {
      const line = data.lines[i];
      node.hidden = Boolean(query) && !(line.speaker + " " + line.text).toLowerCase().includes(query);
      shown += node.hidden ? 0 : 1;
    });
    found.textContent = query ? shown + " of " + lineNodes.length + " lines" : "";
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { search.value = ""; search.dispatchEvent(new Event("input")); }
  });

  // Deep links: #t=83, #t=83.5, #t=1:23 or #t=1:02:03 start there.
  const fromHash = () => {
    const match = /^#t=([0-9:.]+)$/.exec(location.hash);
    if (!match) return;
    const seconds = match[1].split(":").reduce((sum, part) => sum * 60 + Number(part), 0);
    if (Number.isFinite(seconds)) seek(seconds);
  };
  window.addEventListener("hashchange", fromHash);
  fromHash();
  $("#share").addEventListener("click", () => {
    const url = new URL(location.href);
    url.hash = "t=" + Math.floor(audio.currentTime);
    history.replaceState(null, "", url.hash);
    copy(url.href, $("#share-status"));
  });

  // Keys: Space/K play or pause, J/L and the arrows back/forward 15 s (outside form fields).
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.target.closest("input, select, textarea, button, a")) return;
    const key = event.key.toLowerCase();
    if (key === " " || key === "k") audio.paused ? audio.play().catch(() => {}) : audio.pause();
    else if (key === "j" || key === "arrowleft") seek(audio.currentTime - 15);
    else if (key === "l" || key === "arrowright") seek(audio.currentTime + 15);
    else return;
    event.preventDefault();
  });
})();
