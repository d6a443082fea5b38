/**
 * A line chart as a standalone SVG string: a few series over time on one pair of axes, with a legend. Written by
 * hand (no browser, no dependency) for the rate-limited section's pictures of a run.
 */

/** One line of a chart: its name in the legend, its colour, and its y value at each x of the chart. */
export interface Series {
  name: string;
  color: string;
  values: readonly number[];
  /** A dashed line (for a reference such as the allowed rate). */
  dashed?: boolean;
}

/** What to draw: a title, the x step between values (seconds), the series, and the axes' labels. */
export interface Chart {
  title: string;
  stepSeconds: number;
  series: readonly Series[];
  yLabel: string;
}

const WIDTH = 720;
const HEIGHT = 300;
const LEFT = 60;
const RIGHT = 16;
const TOP = 40;
const BOTTOM = 40;

const xml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A step of 1, 2 or 5 × 10^n giving about `count` ticks up to `max`. */
function niceStep(max: number, count: number): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

/** The chart as an SVG document. */
export function lineChart(chart: Chart): string {
  const length = Math.max(1, ...chart.series.map((s) => s.values.length));
  const xMax = Math.max(chart.stepSeconds, (length - 1) * chart.stepSeconds);
  const peak = Math.max(1, ...chart.series.flatMap((s) => s.values.filter(Number.isFinite)));
  const yStep = niceStep(peak * 1.1, 5);
  const yMax = Math.ceil((peak * 1.1) / yStep) * yStep;
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const x = (seconds: number) => LEFT + (seconds / xMax) * plotW;
  const y = (value: number) => TOP + plotH - (Math.min(value, yMax) / yMax) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<title>${xml(chart.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${LEFT}" y="16" font-size="13" font-weight="bold">${xml(chart.title)}</text>`,
  );
  for (let value = 0; value <= yMax + 1e-9; value += yStep) {
    const py = y(value).toFixed(1);
    parts.push(
      `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`,
      `<text x="${LEFT - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${xml(value.toLocaleString("en-US"))}</text>`,
    );
  }
  const xStep = niceStep(xMax, 10);
  for (let seconds = 0; seconds <= xMax + 1e-9; seconds += xStep) {
    const px = x(seconds).toFixed(1);
    parts.push(
      `<line x1="${px}" x2="${px}" y1="${TOP + plotH}" y2="${TOP + plotH + 4}" stroke="#666"/>`,
      `<text x="${px}" y="${TOP + plotH + 16}" text-anchor="middle">${seconds}</text>`,
    );
  }
  parts.push(
    `<line x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${TOP + plotH}" stroke="#666"/>`,
    `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${TOP + plotH}" y2="${TOP + plotH}" stroke="#666"/>`,
    `<text x="${LEFT + plotW / 2}" y="${HEIGHT - 6}" text-anchor="middle">seconds into the run</text>`,
    `<text transform="translate(14 ${TOP + plotH / 2}) rotate(-90)" text-anchor="middle">${xml(chart.yLabel)}</text>`,
  );
  for (const series of chart.series) {
    const points = series.values
      .map((value, i) => `${x(i * chart.stepSeconds).toFixed(1)},${y(value).toFixed(1)}`)
      .join(" ");
    const dash = series.dashed ? ` stroke-dasharray="6 4"` : "";
    parts.push(
      `<polyline fill="none" stroke="${series.color}" stroke-width="1.5"${dash} points="${points}"><title>${xml(series.name)}</title></polyline>`,
    );
  }
  let legendX = WIDTH - RIGHT - 8;
  for (const series of [...chart.series].reverse()) {
    const textWidth = series.name.length * 6.2;
    legendX -= textWidth + 28;
    const dash = series.dashed ? ` stroke-dasharray="6 4"` : "";
    parts.push(
      `<line x1="${legendX.toFixed(1)}" x2="${(legendX + 20).toFixed(1)}" y1="26" y2="26" stroke="${series.color}" stroke-width="2"${dash}/>`,
      `<text x="${(legendX + 24).toFixed(1)}" y="26" dominant-baseline="middle">${xml(series.name)}</text>`,
    );
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** The mean of each `width` consecutive values, centred: a 100 ms series as a readable line. */
export function smooth(values: readonly number[], width: number): number[] {
  const half = Math.floor(width / 2);
  return values.map((_, i) => {
    const from = Math.max(0, i - half);
    const to = Math.min(values.length, i + half + 1);
    let sum = 0;
    for (let j = from; j < to; j++) sum += values[j] ?? 0;
    return sum / (to - from);
  });
}
