// Progressive enhancement only: every page works without this file.
"use strict";

// Ask before destructive buttons (forms marked data-confirm).
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// The who-is-where table refreshes itself: poll for a newer version (204 while nothing changed).
function followLive(container) {
  const seconds = Number(container.dataset.pollSeconds || 2);
  const poll = async () => {
    const table = container.querySelector("#seats");
    const url = new URL(container.dataset.liveUrl, window.location.href);
    url.searchParams.set("marker", table ? table.dataset.marker : "");
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.redirected) return;  // signed out: the sign-in page is not a table
      if (response.status === 200) container.innerHTML = await response.text();
    } catch (error) {
      // the server restarts or the network blips: try again at the next tick
    }
    window.setTimeout(poll, seconds * 1000);
  };
  window.setTimeout(poll, seconds * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live) followLive(live);
});
