// Public pages (no login): the credit registry with serial lineage, and certificate verification.
import { api } from "../api.js";
import { t } from "../i18n.js";
import { card, field, form, h, input, load, num, replace, submit, table, when } from "../ui.js";

export async function registry(view) {
  const totals = h("div", { "data-part": "totals" });
  const projects = h("div", { "data-part": "registered" });
  const lineage = h("div", { class: "result", "data-result": "lineage" });
  view.append(h("h1", { text: t("registry.title") }), h("p", { class: "hint", text: t("registry.hint") }),
    card("registry.search", form({ "data-form": "serial" }, [
      field("registry.serial", "serial", input("serial", { placeholder: "NC-FS-0001-2024-000000001" })),
      submit("registry.find"),
    ], async (v) => {
      replace(lineage, lineageView(await api(`/registry/serials/${encodeURIComponent(v.serial.trim())}`, { anonymous: true })));
    }), lineage),
    card("registry.totals", totals),
    card("registry.projects", projects));
  await Promise.all([
    load(totals, async () => table([
      ["registry.project", (r) => `${String(r.project_number ?? "").padStart(4, "0")} ${r.project_name}`],
      ["registry.vintage", (r) => r.vintage], ["registry.issued", (r) => num(r.issued)],
      ["registry.held", (r) => num(r.held)], ["registry.retired", (r) => num(r.retired)],
      ["registry.buffer", (r) => num(r.buffer)],
      ["registry.cancelled", (r) => num(r.cancelled ?? 0)],
    ], await api("/registry/projects", { anonymous: true }), { "data-table": "registry" })),
    load(projects, async () => table([
      ["project.name", (p) => p.name], ["project.kind", (p) => t(`kind.${p.kind}`)],
      ["project.county", (p) => p.county], ["project.area", (p) => `${num(p.area_ha)} ha`],
      ["project.registered_at", (p) => when(p.registered_at)],
    ], (await api("/projects?state=registered&limit=200", { anonymous: true })).items)),
  ]);
}

function lineageView(found) {
  const step = (s) => h("li", { "data-block": s.block_id },
    h("code", { text: s.serials }), ` · ${s.holder ?? "—"} · ${t(`block.${s.status}`)}`,
    h("br"), h("small", { class: "hint", text: `#${s.created_by.seq ?? "…"} ${s.created_by.action ?? s.created_by.kind ?? ""}` +
      (s.closed_by ? ` → #${s.closed_by.seq ?? "…"} ${s.closed_by.action ?? s.closed_by.kind ?? ""}` : "") }));
  return h("div", { "data-serial": found.serial },
    h("h3", {}, t("registry.lineage_of"), " ", h("code", { text: found.serial })),
    found.issuance ? h("p", { text: t("registry.issued_by", { vintage: found.issuance.vintage,
      tco2e: found.issuance.verified_tco2e, buffer: found.issuance.buffer_pct, when: when(found.issuance.issued_at) }) }) : null,
    h("ol", { class: "timeline", "data-timeline": "lineage" }, found.steps.map(step)),
    found.retirement ? h("p", { class: "ok" }, t("registry.retired_for", { who: found.retirement.beneficiary, why: found.retirement.purpose }), " ",
      h("a", { href: `#/verify/${found.retirement.certificate_id}`, text: t("registry.certificate") })) : null,
    // cancelled to compensate a verified loss (issue 13): the loss it made good
    found.compensation ? h("p", { class: "warn", "data-compensation": found.compensation.loss_id },
      t("registry.compensated_for", { cause: t(`loss.${found.compensation.cause}`),
        when: found.compensation.occurred_on, tco2e: found.compensation.verified_tco2e })) : null);
}

export async function verify(view, { params, go }) {
  const [certificateId] = params;
  const result = h("div", { "data-part": "certificate" });
  view.append(h("h1", { text: t("verify.title") }), h("p", { class: "hint", text: t("verify.hint") }),
    card(null, form({ "data-form": "verify" }, [
      field("verify.id", "certificate_id", input("certificate_id", { value: certificateId || "" })),
      submit("verify.submit"),
    ], async (v) => go(`verify/${encodeURIComponent(v.certificate_id.trim())}`))),
    result);
  if (certificateId) {
    await load(result, async () => certificateView(await api(`/certificates/${encodeURIComponent(certificateId)}`, { anonymous: true })));
  }
}

// The keys the certificate JSON adds to the certified fields; the hash covers every other key
// (GET /certificates/{id} hash_recipe, credits' domain/hashing.py UNHASHED_KEYS).
const UNHASHED = ["content_hash", "hash_recipe", "json_url", "pdf_url", "verification_url"];

/** Keys sorted by code point at every level, arrays in order, no whitespace, non-ASCII as is:
 * JSON.stringify already writes strings and numbers the way the recipe's json.dumps does. */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function certificateView(c) {
  const row = (key, value) => (value === null || value === undefined ? null
    : h("div", { class: "kv" }, h("span", { text: t(key) }), h("strong", { text: String(value) })));
  const certified = Object.fromEntries(Object.entries(c).filter(([k]) => !UNHASHED.includes(k)));
  const json = h("textarea", { class: "json", "data-json": "certified", rows: 10, spellcheck: "false",
    value: JSON.stringify(certified, null, 2) });
  const outcome = h("div", { class: "result", "data-result": "recompute" });
  const recompute = form({ "data-form": "recompute" }, [
    field("verify.json", "json", json, "verify.json_hint"),
    submit("verify.recompute"),
  ], async () => {
    let parsed;
    try { parsed = JSON.parse(json.value); } catch (err) {
      return replace(outcome, h("p", { class: "bad", "data-match": "invalid", text: t("verify.json_invalid", { why: err.message }) }));
    }
    const canonical = canonicalJson(Object.fromEntries(Object.entries(parsed).filter(([k]) => !UNHASHED.includes(k))));
    const computed = await sha256Hex(canonical);
    const match = computed === c.content_hash;
    return replace(outcome, h("div", { class: match ? "ok" : "bad", "data-match": match ? "match" : "mismatch" },
      h("p", { text: t(match ? "verify.match" : "verify.mismatch") }),
      h("div", { class: "kv" }, h("span", { text: t("verify.computed") }), h("code", { "data-computed": "", text: computed })),
      h("div", { class: "kv" }, h("span", { text: t("verify.hash") }), h("code", { text: c.content_hash }))));
  });
  return h("section", { class: "card certificate", "data-certificate": c.certificate_id },
    h("h2", {}, t("verify.valid"), " ✓"),
    row("verify.status", t(`certificate.status.${c.status || "retired"}`)),
    row("verify.id", c.certificate_id), row("verify.beneficiary", c.beneficiary),
    row("verify.purpose", c.purpose), row("verify.quantity", `${num(c.quantity)} tCO2e`),
    row("verify.retired_at", when(c.retired_at)), row("verify.report", c.report_id),
    row("verify.event", c.event_id), row("verify.redemption", c.redemption_id),
    h("h3", { text: t("verify.projects") }),
    h("ul", {}, (c.projects || []).map((p) => h("li", { text: `${String(p.project_number).padStart(4, "0")} ${p.project_name} · ${p.vintage} · ${num(p.quantity)} t` }))),
    h("h3", { text: t("verify.serials") }),
    h("ul", {}, (c.serials || []).map((s) => h("li", {}, h("code", { text: s })))),
    row("verify.hash", c.content_hash),
    h("p", {}, h("a", { class: "button", "data-link": "pdf", href: `/api/v1/certificates/${encodeURIComponent(c.certificate_id)}/pdf`, text: t("event.pdf") })),
    h("h3", { text: t("verify.recipe") }),
    h("p", { text: t("verify.recipe_summary") }),
    h("p", { class: "recipe", "data-recipe": "", text: c.hash_recipe || t("verify.no_recipe") }),
    recompute, outcome);
}
