/**
 * A small SVG of a soak run: heap used, RSS and OS handles over time, one panel each,
 * with the warm-up shaded and each panel's least-squares line after it. No dependency:
 * three polylines and some text.
 */
import { after, slopePerMinute, type Point } from './stats.js';

export interface Series { title: string; unit: string; scale: number; points: Point[] }

const WIDTH = 640, PANEL = 150, GAP = 34, LEFT = 64, RIGHT = 16, TOP = 28;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

export function plotSvg(heading: string, series: readonly Series[], warmUpSeconds: number): string {
  const height = TOP + series.length * (PANEL + GAP);
  const tMax = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.t)));
  const x = (t: number) => LEFT + (t / tMax) * (WIDTH - LEFT - RIGHT);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="16" font-size="13" font-weight="bold">${esc(heading)}</text>`,
  ];
  series.forEach((s, i) => {
    const top = TOP + i * (PANEL + GAP) + 14;
    const ys = s.points.map((p) => p.y / s.scale);
    let lo = Math.min(...ys), hi = Math.max(...ys);
    if (!(hi > lo)) { lo -= 1; hi += 1; }
    const pad = (hi - lo) * 0.08;
    lo -= pad; hi += pad;
    const y = (v: number) => top + PANEL - ((v - lo) / (hi - lo)) * PANEL;
    const slope = slopePerMinute(after(s.points, warmUpSeconds)) / s.scale;
    parts.push(
      `<text x="${LEFT}" y="${top - 4}">${esc(`${s.title} (${s.unit}); after the warm-up ${Number.isNaN(slope) ? 'n/a' : `${slope >= 0 ? '+' : ''}${fmt(slope)}`} ${s.unit}/min`)}</text>`,
      `<rect x="${LEFT}" y="${top}" width="${WIDTH - LEFT - RIGHT}" height="${PANEL}" fill="none" stroke="#999"/>`,
      `<rect x="${LEFT}" y="${top}" width="${x(Math.min(warmUpSeconds, tMax)) - LEFT}" height="${PANEL}" fill="#eee"/>`,
      `<text x="${LEFT - 4}" y="${top + 10}" text-anchor="end">${fmt(hi)}</text>`,
      `<text x="${LEFT - 4}" y="${top + PANEL}" text-anchor="end">${fmt(lo)}</text>`,
      `<polyline fill="none" stroke="#1f6fb2" stroke-width="1.2" points="${s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.y / s.scale).toFixed(1)}`).join(' ')}"/>`,
    );
    const fitted = after(s.points, warmUpSeconds);
    if (fitted.length >= 2 && !Number.isNaN(slope)) {
      const meanT = fitted.reduce((a, p) => a + p.t, 0) / fitted.length;
      const meanY = fitted.reduce((a, p) => a + p.y / s.scale, 0) / fitted.length;
      const at = (t: number) => meanY + (slope / 60) * (t - meanT);
      const t0 = fitted[0]!.t, t1 = fitted.at(-1)!.t;
      parts.push(`<line x1="${x(t0).toFixed(1)}" y1="${y(at(t0)).toFixed(1)}" x2="${x(t1).toFixed(1)}" y2="${y(at(t1)).toFixed(1)}" stroke="#c0392b" stroke-dasharray="4 3"/>`);
    }
  });
  const bottom = TOP + series.length * (PANEL + GAP) - GAP + 14;
  parts.push(
    `<text x="${LEFT}" y="${bottom + 14}">0</text>`,
    `<text x="${WIDTH - RIGHT}" y="${bottom + 14}" text-anchor="end">${fmt(tMax / 60)} min</text>`,
    `<text x="${(LEFT + WIDTH) / 2}" y="${bottom + 14}" text-anchor="middle">grey: warm-up; red dashes: least-squares fit after it</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
