// Landing page: language toggle and the Vietnam-time clock; links do the rest.
import { apply, bindToggle, vnClock } from "/static/i18n.js";

apply();
bindToggle(document.getElementById("lang"));
const clock = document.getElementById("clock");
const draw = () => { clock.textContent = vnClock(); };
draw();
setInterval(draw, 1000);
