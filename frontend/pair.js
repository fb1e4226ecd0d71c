// The pairing page a new display shows. Two ways in:
//  - /pair#code=ABCD-EFGH           the display agent paired already: just show its code;
//  - /pair#token=iwt_...&to=/display/w/1   the agent has the token: swap it for the
//    HttpOnly display session, then open the display page (the token never reaches a URL
//    the server sees: it stays in the fragment);
//  - /pair                         a browser alone pairs itself: show the code, poll,
//    then swap the token and open its first monitor.

const codeBox = document.getElementById("code");
const statusBox = document.getElementById("pair-status");
const hash = new URLSearchParams(location.hash.slice(1));

async function openSession(token, to) {
  const r = await fetch("/api/display/session", {
    method: "POST", credentials: "same-origin",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: "{}",
  });
  if (!r.ok) throw new Error(`session ${r.status}`);
  history.replaceState(null, "", "/pair");
  location.replace(to.startsWith("/display/") ? to : "/");
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// A new pairing: its code, or after a 429/503 wait as long as the server asks and try again.
async function startPairing(name) {
  for (;;) {
    const r = await fetch("/api/display/pair", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }),
    });
    if (r.ok) return r.json();
    const wait = Number(r.headers.get("Retry-After")) || 10;
    statusBox.textContent = `Thử lại sau ${wait} giây / Retrying in ${wait} s`;
    await sleep(wait * 1000);
  }
}

async function pairHere() {
  const name = new URLSearchParams(location.search).get("name") || navigator.userAgent.slice(0, 60);
  for (;;) {                              // a pairing that expires (404) starts over, new code
    const started = await startPairing(name);
    codeBox.textContent = started.code;
    document.body.dataset.ready = "1";
    for (;;) {
      await sleep(2000);
      const p = await fetch(`/api/display/pair/${started.node}/poll`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ secret: started.secret }),
      });
      if (p.status === 404) break;
      if (!p.ok) continue;
      const answer = await p.json();
      if (answer.token && answer.monitors.length) {
        await openSession(answer.token, `/display/${answer.wall}/${answer.monitors[0].id}`);
        return;
      }
    }
  }
}

async function main() {
  if (hash.get("token")) { await openSession(hash.get("token"), hash.get("to") || "/"); return; }
  if (hash.get("code")) { codeBox.textContent = hash.get("code"); document.body.dataset.ready = "1"; return; }
  await pairHere();
}

main().catch((err) => { statusBox.textContent = `Lỗi / Error: ${err.message}`; });
