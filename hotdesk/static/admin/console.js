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

// The key button next to a secret field: fill it with a secret the server generates (the policy's
// one generator), shown so the admin can read it.
function offerSecrets(button) {
  const field = document.getElementById(button.dataset.field);
  if (!field) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      const response = await fetch(button.dataset.generateSecret, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok || response.redirected) return;
      field.value = (await response.json()).secret;
      field.type = "text";
      field.focus();
    } catch (error) {
      // offline for a moment: the admin may press it again, or type a secret
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live) followLive(live);
  document.querySelectorAll("button[data-generate-secret]").forEach(offerSecrets);
});
