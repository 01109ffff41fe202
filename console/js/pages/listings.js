// A seller's listings (the developer's page): offer held credits at a price, follow each
// listing's status, and cancel an open one, which returns what is left to the holding.
import { api } from "../api.js";
import { t } from "../i18n.js";
import { badge, card, field, form, h, input, load, num, replace, submit, table, when } from "../ui.js";

/** The card; `holdingsChanged()` reloads the holding shown beside it (a listing reserves credits). */
export function listingsCard(holdingsChanged) {
  const list = h("div", { "data-part": "listings" });
  const done = h("div", { class: "result", "data-result": "listing" });

  async function refresh() {
    await load(list, async () => {
      const page = await api("/listings?mine=true&limit=200");
      return [h("p", { class: "hint", text: t("listing.count", { n: num(page.total) }) }), table([
        ["listing.created", (l) => when(l.created_at)],
        ["listing.quantity", (l) => num(l.quantity)],
        ["listing.remaining", (l) => h("span", { "data-remaining": l.id, text: num(l.remaining) })],
        ["listing.price", (l) => `¥${num(l.price_per_tonne, 2)}`],
        ["listing.status", (l) => h("span", { "data-status": l.id }, badge(l.status))],
        ["admin.actions", (l) => (l.status === "open" ? cancelForm(l) : "")],
      ], page.items, { "data-table": "listings" })];
    });
  }

  async function changed(message) {
    replace(done, h("p", { class: "ok", text: message }));
    await Promise.all([refresh(), holdingsChanged()]);
  }

  function cancelForm(l) {
    return form({ class: "inline", "data-cancel": l.id }, [submit("listing.cancel", { class: "danger" })], async () => {
      const cancelled = await api(`/listings/${l.id}/cancel`, { method: "POST" });
      await changed(t("listing.cancelled", { n: num(cancelled.remaining ?? l.remaining) }));
    });
  }

  const create = form({ "data-form": "listing" }, [
    h("div", { class: "grid" },
      field("listing.quantity", "quantity", input("quantity", { type: "number", step: "1", min: "1" })),
      field("listing.price", "price_per_tonne", input("price_per_tonne", { type: "number", step: "0.01", min: "0.01" }), "listing.price_hint")),
    submit("listing.submit"),
  ], async (v, el) => {
    const listed = await api("/listings", { json: { quantity: Number(v.quantity), price_per_tonne: v.price_per_tonne } });
    el.reset();
    await changed(t("listing.listed", { n: num(listed.quantity) }));
  });

  refresh();
  return h("section", { class: "card", "data-card": "listings" }, h("h2", { text: t("listing.title") }),
    h("p", { class: "hint", text: t("listing.hint") }), create, done, list);
}
