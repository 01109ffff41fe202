// The public list of accredited verification bodies and licensed transit operators: every grant
// and revocation with its dates, so anyone can check who may verify or feed trips.
import { api } from "../api.js";
import { t } from "../i18n.js";
import { badge, card, h, load, table, when } from "../ui.js";

export async function render(view) {
  const list = h("div", { "data-part": "accreditations" });
  view.append(h("h1", { text: t("accreditations.title") }),
    h("p", { class: "hint", text: t("accreditations.hint") }), card(null, list));
  await load(list, async () => accreditationTable((await api("/accreditations?limit=200", { anonymous: true })).items));
}

export function accreditationTable(rows, { actions } = {}) {
  const columns = [
    ["admin.organisation", (g) => g.organisation], ["admin.role", (g) => t(`role.${g.role}`)],
    ["login.username", (g) => g.username], ["admin.number", (g) => g.number],
    ["admin.modes", (g) => (g.modes || []).map((m) => t(`mode.${m}`)).join(" · ")],
    ["admin.valid", (g) => `${g.valid_from} – ${g.valid_to}`],
    ["admin.status", (g) => badge(g.status)],
    ["admin.granted_at", (g) => when(g.granted_at)],
    ["admin.revoked_at", (g) => (g.revoked_at ? `${when(g.revoked_at)} · ${g.revocation_reason || ""}` : "")],
  ];
  if (actions) columns.push(["admin.actions", actions]);
  return table(columns, rows, { "data-table": "accreditations" });
}
