// Overview: a card for each page the caller's role may open (the shell's /api/nav answer).
import { shell } from "/static/shell.js";
import { apply, onLangChange, t } from "/static/i18n.js";

function card(page) {
  const link = document.createElement("a");
  link.className = "card";
  link.href = page.path;
  link.dataset.page = page.path;
  const name = document.createElement("strong");
  name.dataset.i18n = page.key;
  const desc = document.createElement("span");
  desc.className = "muted";
  desc.dataset.i18n = `home.desc.${page.key}`;
  link.append(name, desc);
  return link;
}

async function main() {
  apply();
  const answer = await shell;
  if (!answer) return;
  const others = answer.pages.filter((page) => !page.menu && page.path !== window.location.pathname);
  document.getElementById("cards").replaceChildren(...others.map(card));
  const hello = document.getElementById("hello");
  const greet = () => { hello.textContent = t("home.hello", { user: answer.user }); };
  greet();
  onLangChange(greet);
  apply();
  document.body.dataset.ready = "1";
}

main();
