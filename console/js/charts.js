// Horizontal bar charts (no library): one row per item, the label and value as HTML text (so
// they keep the page's font size on a phone) and the bar as a small SVG scaled to the largest.
import { h, num } from "./ui.js";

/** items: [{label, value}]; returns a <figure> with one row per item and a caption. */
export function barChart({ title, items, unit = "", name }) {
  const max = Math.max(0, ...items.map((i) => Number(i.value) || 0)) || 1;
  const rows = items.map((item, i) => {
    const value = Number(item.value) || 0;
    // the bar's length in per cent of the track; at least a sliver so zero still shows a mark
    const width = Math.max(0.5, (value / max) * 100);
    const bar = h("svg:svg", { class: "chart-bar", viewBox: "0 0 100 10", preserveAspectRatio: "none",
      "aria-hidden": "true" },
    h("svg:rect", { x: 0, y: 0, width: width.toFixed(2), height: 10, class: `bar bar-${i % 6}`, "data-value": value },
      h("svg:title", {}, `${item.label}: ${num(value, 3)} ${unit}`)));
    return h("div", { class: "chart-row" }, h("span", { class: "chart-label", text: item.label }), bar,
      h("span", { class: "chart-value", text: `${num(value, 1)} ${unit}` }));
  });
  return h("figure", { class: "chart-figure", "data-chart": name },
    h("figcaption", { text: title }),
    h("div", { class: "chart" }, rows.length ? rows : h("span", { class: "chart-label", text: "—" })));
}
