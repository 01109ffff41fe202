// The green-travel and points methodology, public: every parameter with its value, unit, source
// and version, or marked as a platform assumption with the reason (GET /methodology).
import { api } from "../api.js";
import { t } from "../i18n.js";
import { badge, card, h, load, table } from "../ui.js";

const GROUPS = ["baseline", "reduction", "ev", "caps", "speed", "claims", "points"];

export async function render(view) {
  const body = h("div", { "data-part": "methodology" });
  view.append(h("h1", { text: t("methodology.title") }),
    h("p", { class: "hint", text: t("methodology.hint") }), body);
  await load(body, async () => {
    const { parameters } = await api("/methodology", { anonymous: true });
    return GROUPS.map((group) => card(`methodology.group.${group}`, table([
      ["methodology.key", (p) => h("code", { text: p.key })],
      ["methodology.value", (p) => String(p.value)],
      ["methodology.unit", (p) => p.unit],
      ["methodology.source", (p) => (p.assumption ? badge("assumption") : p.source)],
      ["methodology.version", (p) => p.version],
      ["methodology.note", (p) => p.note],
    ], parameters.filter((p) => p.group === group), { "data-table": `methodology-${group}` })));
  });
}
