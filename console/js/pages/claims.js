// The regulator's queue of enterprises' claims to a unified social credit code (USCC): a claim
// is disclosed only once confirmed here; confirming one rejects the other claims of the code.
import { api } from "../api.js";
import { t } from "../i18n.js";
import { field, form, h, input, load, replace, when } from "../ui.js";

export function claimsQueue() {
  const list = h("div", { "data-part": "claims" });
  const done = h("div", { class: "result", "data-result": "claim" });

  async function refresh() {
    await load(list, async () => {
      const claims = (await api("/enterprise-claims?status=pending&limit=500")).items;
      return claims.length ? claims.map((c) => claimItem(c, decided))
        : h("p", { class: "empty", text: t("claims.none") });
    });
  }

  async function decided(key, name) {
    replace(done, h("p", { class: "ok", text: t(key, { name }) }));
    await refresh();
  }

  return { el: h("div", {}, done, list), refresh };
}

function claimItem(c, decided) {
  const el = form({ class: "queue-item", "data-claim": c.enterprise_id }, [
    h("h3", { text: `${c.name} · ${c.uscc}` }),
    h("p", { class: "hint", text: t("claims.by", { user: c.claimant_username, at: when(c.created_at) }) }),
    c.other_claims ? h("p", { class: "warn", text: t("claims.others", { n: c.other_claims }) }) : null,
    field("claims.reason", "reason", input("reason")),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary", "data-decision": "confirm", text: t("claims.confirm"),
        onclick: () => { el.dataset.decision = "confirm"; } }),
      h("button", { type: "submit", class: "danger", "data-decision": "reject", text: t("claims.reject"),
        onclick: () => { el.dataset.decision = "reject"; } })),
  ], async (v, formEl) => {
    const decision = formEl.dataset.decision;
    await api(`/enterprise-claims/${c.enterprise_id}/decision`, { json: { decision, reason: v.reason.trim() || null } });
    await decided(decision === "confirm" ? "claims.confirmed" : "claims.rejected", c.name);
  });
  return el;
}
