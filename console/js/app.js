// The console's shell: top bar, language switch, hash routes, and a page per role.
import { auth } from "./api.js";
import { getLang, setLang, t } from "./i18n.js";
import { h, replace } from "./ui.js";
import * as access from "./pages/access.js";
import * as accreditations from "./pages/accreditations.js";
import * as admin from "./pages/admin.js";
import * as citizen from "./pages/citizen.js";
import * as developer from "./pages/developer.js";
import * as enterprise from "./pages/enterprise.js";
import * as methodology from "./pages/methodology.js";
import * as operator from "./pages/operator.js";
import * as organizer from "./pages/organizer.js";
import * as password from "./pages/password.js";
import * as publicPages from "./pages/public.js";
import * as regulator from "./pages/regulator.js";
import * as verifier from "./pages/verifier.js";

// route -> [page, role it is for (null: anyone, logged in or not; "*": anyone signed in)]
const ROUTES = {
  login: [access.login, null],
  register: [access.register, null],
  registry: [publicPages.registry, null],
  verify: [publicPages.verify, null],
  accreditations: [accreditations.render, null],
  methodology: [methodology.render, null],
  password: [password.render, "*"],
  citizen: [citizen.render, "citizen"],
  enterprise: [enterprise.render, "enterprise"],
  developer: [developer.render, "project_developer"],
  verifier: [verifier.render, "verifier"],
  organizer: [organizer.render, "organizer"],
  operator: [operator.render, "transit_operator"],
  regulator: [regulator.render, "regulator"],
  admin: [admin.render, "admin"],
};

const HOME = {
  citizen: "citizen", enterprise: "enterprise", project_developer: "developer",
  verifier: "verifier", organizer: "organizer", regulator: "regulator", admin: "admin",
  transit_operator: "operator",
};

export const homeOf = (role) => HOME[role] || "registry";

function topBar(me) {
  const link = (route, key) => h("a", { href: `#/${route}`, text: t(key), "data-route": route });
  const nav = h("nav", {},
    me ? link(homeOf(me.role), `role.${me.role}`) : null,
    link("registry", "nav.registry"),
    link("verify", "nav.verify"),
    link("accreditations", "nav.accreditations"),
    link("methodology", "nav.methodology"),
    me ? null : link("login", "nav.login"));
  const lang = h("button", {
    type: "button", class: "lang", "data-action": "lang",
    text: getLang() === "zh" ? "English" : "中文",
    onclick: () => { setLang(getLang() === "zh" ? "en" : "zh"); render(); },
  });
  const who = me ? h("span", { class: "who" },
    h("a", { href: "#/password", text: me.username, title: t("password.title"), "data-route": "password" }),
    h("a", { href: "#/password", class: "pw", "data-link": "password", text: t("password.link") }),
    h("button", { type: "button", class: "link", "data-action": "logout", text: t("nav.logout"),
      onclick: () => { auth.clear(); location.hash = "#/login"; } })) : null;
  return h("div", { class: "bar" }, h("a", { class: "brand", href: "#/", text: t("app.name") }), nav,
    h("div", { class: "tools" }, who, lang));
}

export function render() {
  const me = auth.me;
  const [name, ...params] = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean)
    .map(decodeURIComponent);
  const route = name || (me ? homeOf(me.role) : "login");
  document.documentElement.lang = getLang() === "zh" ? "zh-CN" : "en";
  document.title = t("app.title");
  replace(document.getElementById("top"), topBar(me));
  document.querySelectorAll("nav a").forEach((a) =>
    a.classList.toggle("active", a.dataset.route === route));
  const view = document.getElementById("view");
  const [page, role] = ROUTES[route] || [null, null];
  if (!page) return replace(view, h("p", { class: "empty", text: t("common.not_found") }));
  if (role && !me) {
    location.hash = "#/login";
    return undefined;
  }
  if (role && role !== "*" && me.role !== role) {
    return replace(view, h("p", { class: "empty", text: t("common.wrong_role", { role: t(`role.${role}`) }) }));
  }
  // Each render gets its own container; a slow page that finishes after a navigation is discarded.
  const container = h("div", { class: `page page-${route}`, "data-page": route });
  replace(view, container);
  return page(container, { me, params, go: (to) => { location.hash = `#/${to}`; } });
}

window.addEventListener("hashchange", render);
render();
