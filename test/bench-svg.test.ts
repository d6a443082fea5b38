/**
 * The rate-limited bench's pictures (bench/svg.ts): an SVG line chart written without a browser.
 */
import { describe, expect, it } from "vitest";
import { lineChart, smooth } from "../bench/svg.js";

describe("bench pictures", () => {
  it("draws one polyline per series over the chart's time, with a legend, and escapes text", () => {
    const svg = lineChart({
      title: "400/s & <100 ms> windows",
      stepSeconds: 0.1,
      yLabel: "calls per second",
      series: [
        { name: "sent", color: "#d62728", values: [0, 400, 800] },
        { name: "allowed", color: "#2ca02c", values: [400, 400, 400], dashed: true },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("<title>400/s &amp; &lt;100 ms&gt; windows</title>"); // the picture's alternative text
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => (m[1] ?? "").split(" "));
    expect(lines).toHaveLength(2);
    for (const points of lines) expect(points).toHaveLength(3);
    // The first point of every line is at the left edge; the peak (800) is the highest point drawn.
    const ys = (lines[0] ?? []).map((p) => Number(p.split(",")[1]));
    expect(Math.min(...ys)).toBe(ys[2]);
    expect(svg).toContain('stroke-dasharray="6 4"'); // the dashed series
    expect(svg.match(/>sent</g)).toHaveLength(2); // its tooltip and its legend entry
  });

  it("smooth: a centred mean, narrower at the edges", () => {
    expect(smooth([0, 10, 20, 30, 40], 3)).toEqual([5, 10, 20, 30, 35]);
    expect(smooth([7], 5)).toEqual([7]);
  });
});
