// Horizontal bar charts drawn as inline SVG (no library): one bar per item, scaled to the largest.
import { h } from "./ui.js";
import { num } from "./ui.js";

const ROW = 30;
const LABEL_W = 170;
const WIDTH = 640;

/** items: [{label, value}]; returns a <figure> with a responsive SVG and a caption. */
export function barChart({ title, items, unit = "", name }) {
  const max = Math.max(0, ...items.map((i) => Number(i.value) || 0)) || 1;
  const barSpace = WIDTH - LABEL_W - 110;
  const height = Math.max(1, items.length) * ROW + 10;
  const svg = h("svg:svg", {
    viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": title,
    class: "chart", preserveAspectRatio: "xMinYMin meet",
  });
  items.forEach((item, i) => {
    const y = 5 + i * ROW;
    const value = Number(item.value) || 0;
    const w = Math.max(1, (value / max) * barSpace);
    svg.append(
      h("svg:text", { x: LABEL_W - 8, y: y + ROW / 2 + 1, "text-anchor": "end", class: "chart-label" },
        item.label),
      h("svg:rect", { x: LABEL_W, y: y + 4, width: w.toFixed(1), height: ROW - 10, rx: 3,
        class: `bar bar-${i % 6}`, "data-value": value },
      h("svg:title", {}, `${item.label}: ${num(value, 3)} ${unit}`)),
      h("svg:text", { x: LABEL_W + w + 6, y: y + ROW / 2 + 1, class: "chart-value" },
        `${num(value, 1)} ${unit}`),
    );
  });
  if (!items.length) {
    svg.append(h("svg:text", { x: 10, y: 25, class: "chart-label" }, "—"));
  }
  return h("figure", { class: "chart-figure", "data-chart": name }, h("figcaption", { text: title }), svg);
}
