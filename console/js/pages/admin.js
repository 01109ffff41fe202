// The administrator's page: accredit verification bodies, license transit operators (machine
// clients), revoke grants and rotate client secrets. Secrets are shown once, never stored here.
import { api } from "../api.js";
import { t } from "../i18n.js";
import { badge, card, field, form, h, input, load, num, replace, select, submit, table, when } from "../ui.js";
import { accreditationTable } from "./accreditations.js";

const MODES = ["bus", "metro"];

export async function render(view) {
  const list = h("div", { "data-part": "accreditations" });
  const secret = h("div", { class: "result", "data-result": "secret" });

  async function refresh() {
    await load(list, async () => accreditationTable((await api("/accreditations?limit=200")).items,
      { actions: (g) => actions(g, shown) }));
  }

  async function shown(reply) {
    replace(secret, secretNote(reply));
    await refresh();
  }

  view.append(h("h1", { text: t("admin.title") }), h("p", { class: "hint", text: t("admin.hint") }),
    secret, card("admin.grant", grantForm(shown)), card("admin.list", list), usersCard());
  await refresh();
}

// Roles an administrator can filter the user list by (accounts' Role values).
const ROLES = ["citizen", "enterprise", "project_developer", "verifier", "organizer", "transit_operator",
  "regulator", "admin"];

/** Every user (GET /users, admin only), by role and a search on the username. */
function usersCard() {
  const list = h("div", { "data-part": "users" });
  const filter = form({ class: "inline", "data-form": "users" }, [
    field("users.role", "role", select("role", [["", t("users.all_roles")], ...ROLES.map((r) => [r, t(`role.${r}`)])])),
    field("users.q", "q", input("q", { type: "search", autocomplete: "off" })),
    submit("users.search"),
  ], async (v) => show(v));
  async function show(v = {}) {
    const query = new URLSearchParams({ limit: "200" });
    if (v.role) query.set("role", v.role);
    if (v.q?.trim()) query.set("q", v.q.trim());
    await load(list, async () => {
      const page = await api(`/users?${query}`);
      return [h("p", { class: "hint", "data-users-total": page.total, text: t("users.count", { n: num(page.total) }) }), table([
        ["login.username", (u) => u.username], ["users.role", (u) => t(`role.${u.role}`)],
        ["users.created", (u) => when(u.created_at)],
        ["admin.status", (u) => (u.accreditation_status ? badge(u.accreditation_status) : "—")],
      ], page.items, { "data-table": "users" })];
    });
  }
  show();
  return h("section", { class: "card", "data-card": "users" }, h("h2", { text: t("users.title") }), filter, list);
}

function grantForm(shown) {
  const today = new Date().toISOString().slice(0, 10);
  const nextYear = `${Number(today.slice(0, 4)) + 3}${today.slice(4)}`;
  const modes = h("fieldset", { class: "field", "data-field": "modes" },
    h("legend", { text: t("admin.modes") }),
    MODES.map((m) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "mode", value: m }), " ", t(`mode.${m}`))),
    h("small", { class: "hint", text: t("admin.modes_hint") }),
    h("small", { class: "error", role: "alert" }));
  return form({ "data-form": "grant" }, [
    field("admin.role", "role", select("role", [["verifier", t("role.verifier")],
      ["transit_operator", t("role.transit_operator")]])),
    field("login.username", "username", input("username", { autocomplete: "off" }), "register.username_hint"),
    field("admin.organisation", "organisation", input("organisation")),
    field("admin.number", "number", input("number"), "admin.number_hint"),
    field("admin.valid_from", "valid_from", input("valid_from", { type: "date", value: today })),
    field("admin.valid_to", "valid_to", input("valid_to", { type: "date", value: nextYear })),
    modes,
    submit("admin.grant_submit"),
  ], async (v, el) => {
    const chosen = [...el.querySelectorAll("input[name=mode]:checked")].map((c) => c.value);
    shown(await api("/accreditations", { json: {
      role: v.role, username: v.username.trim(), organisation: v.organisation.trim(),
      number: v.number.trim(), valid_from: v.valid_from, valid_to: v.valid_to,
      modes: v.role === "transit_operator" ? chosen : [],
    } }));
    // the next grant starts from the same dates and kind; the names are this one's
    for (const name of ["username", "organisation", "number"]) el.elements[name].value = "";
  });
}

/** Revoke (with a reason) for any live grant; a new client secret for an operator's. */
function actions(g, shown) {
  if (g.status === "revoked") return null;
  const revoke = form({ class: "inline", "data-revoke": g.id }, [
    field("admin.reason", "reason", input("reason", { required: true })),
    submit("admin.revoke", { class: "danger" }),
  ], async (v) => shown(await api(`/accreditations/${g.id}/revoke`, { json: { reason: v.reason.trim() } })));
  const rotate = g.role === "transit_operator" ? form({ class: "inline", "data-rotate": g.id },
    [submit("admin.rotate")], async () => shown(await api(`/accreditations/${g.id}/client-secret`, { json: {} })))
    : null;
  return h("div", { class: "actions" }, revoke, rotate);
}

/** What the answer carries once: a verifier's first password or an operator's client secret. */
function secretNote(reply) {
  const lines = [];
  if (reply.initial_password) lines.push([t("admin.initial_password"), reply.initial_password]);
  if (reply.client_id) lines.push([t("admin.client_id"), reply.client_id]);
  if (reply.client_secret) lines.push([t("admin.client_secret"), reply.client_secret]);
  if (!lines.length) return h("p", { class: "ok", text: t("admin.done") });
  return h("div", { class: "ok secret" }, h("p", { text: t("admin.once") }),
    h("dl", {}, lines.map(([k, v]) => [h("dt", { text: k }), h("dd", {}, h("code", { text: v }), " ", copyButton(v))])));
}

/** Copies a shown-once value to the clipboard (127.0.0.1 and https are secure contexts). */
function copyButton(value) {
  const button = h("button", { type: "button", class: "copy", "data-action": "copy", text: t("admin.copy"),
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(value);
        button.textContent = t("admin.copied");
      } catch {
        button.textContent = t("admin.copy_failed"); // the value stays selectable (user-select: all)
      }
    } });
  return button;
}
