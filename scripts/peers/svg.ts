/**
 * Hand-written SVG plots for the benchmark (no plotting library): a latency CDF with a log time
 * axis, and grouped bars. Plain text in, plain text out, so the files diff well.
 */

export interface Series {
  name: string;
  color: string;
  values: number[];
  /** What the shares are of (default: the number of values); more than that leaves the curve short of 100%. */
  total?: number;
  /** Drawn thicker, above the others. */
  emphasis?: boolean;
}

/** Colours that stay apart in print and for the common kinds of colour blindness (Okabe–Ito). */
export const PALETTE = [
  '#0072B2',
  '#D55E00',
  '#009E73',
  '#CC79A7',
  '#E69F00',
  '#56B4E9',
  '#000000',
  '#F0E442',
  '#8C564B',
  '#999999',
];

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const fixed = (n: number): string => (Math.round(n * 10) / 10).toString();

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape(title)}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600" ${FONT}>${escape(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Round numbers for a log axis between `min` and `max`: 100, 200, 500, 1000, … */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let decade = 10 ** Math.floor(Math.log10(min)); decade <= max * 10; decade *= 10)
    for (const step of [1, 2, 5]) {
      const value = step * decade;
      if (value >= min && value <= max) ticks.push(value);
    }
  return ticks;
}

const msLabel = (ms: number): string => (ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`);

/**
 * The empirical CDF of each series (the share of values at or below x), x on a log scale.
 *
 * @example
 * cdfPlot([{ name: 'graft', color: PALETTE[0], values: [900, 1200] }], { title: 'Latency', xLabel: 'ms' });
 */
export function cdfPlot(series: Series[], options: { title: string; xLabel: string; note?: string }): string {
  const width = 900;
  const height = 470;
  const left = 64;
  const right = 250;
  const top = 44;
  const bottom = 96;
  const all = series.flatMap((s) => s.values).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...all))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(lo * 10, ...all)));
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const x = (v: number) =>
    left + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const y = (share: number) => top + (1 - share) * plotH;
  const body: string[] = [];
  for (const tick of logTicks(lo, hi)) {
    body.push(
      `<line x1="${fixed(x(tick))}" y1="${top}" x2="${fixed(x(tick))}" y2="${top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${fixed(x(tick))}" y="${top + plotH + 18}" text-anchor="middle" font-size="11" fill="#444" ${FONT}>${msLabel(tick)}</text>`,
    );
  }
  for (const share of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
    body.push(
      `<line x1="${left}" y1="${fixed(y(share))}" x2="${left + plotW}" y2="${fixed(y(share))}" stroke="${share === 0.5 || share === 0.9 ? '#cfcfcf' : '#eeeeee'}"/>`,
      `<text x="${left - 8}" y="${fixed(y(share) + 4)}" text-anchor="end" font-size="11" fill="#444" ${FONT}>${share * 100}%</text>`,
    );
  }
  body.push(
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    `<text x="${left + plotW / 2}" y="${top + plotH + 38}" text-anchor="middle" font-size="12" ${FONT}>${escape(options.xLabel)}</text>`,
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12" ${FONT}>share of bursts answered</text>`,
  );
  if (options.note) body.push(...noteLines(options.note, left, height - 32, 140));
  const curves: string[] = [];
  series.forEach((s, index) => {
    const sorted = [...s.values].sort((a, b) => a - b);
    const n = sorted.length;
    const total = Math.max(n, s.total ?? n);
    if (n > 0) {
      // A step function: at each value the share jumps by 1/total; it ends at n/total.
      const points: string[] = [`${fixed(x(sorted[0]!))},${fixed(y(0))}`];
      sorted.forEach((v, i) => {
        points.push(`${fixed(x(v))},${fixed(y(i / total))}`, `${fixed(x(v))},${fixed(y((i + 1) / total))}`);
      });
      points.push(`${fixed(left + plotW)},${fixed(y(n / total))}`);
      const width = s.emphasis ? 3.5 : 2;
      const curve = `<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="${width}" stroke-linejoin="round"/>`;
      // The emphasised curve is drawn last, above the others.
      if (s.emphasis) curves.push(curve);
      else curves.unshift(curve);
    }
    const ly = top + 12 + index * 22;
    const answered = total > n ? `${n} of ${total} answered` : `n=${n}`;
    body.push(
      `<line x1="${left + plotW + 16}" y1="${ly}" x2="${left + plotW + 40}" y2="${ly}" stroke="${s.color}" stroke-width="${s.emphasis ? 4 : 3}"/>`,
      `<text x="${left + plotW + 46}" y="${ly + 4}" font-size="12"${s.emphasis ? ' font-weight="600"' : ''} ${FONT}>${escape(s.name)} (${answered})</text>`,
    );
  });
  body.push(...curves);
  return frame(width, height, options.title, body);
}

/** A note in small print, wrapped at about `chars` characters a line. */
function noteLines(note: string, x: number, y: number, chars: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of note.split(' ')) {
    if (line && line.length + word.length + 1 > chars) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map(
    (text, i) => `<text x="${x}" y="${y + i * 13}" font-size="10" fill="#666" ${FONT}>${escape(text)}</text>`,
  );
}

export interface BarGroup {
  name: string;
  values: number[];
}

/**
 * Grouped bars: one group per system, one bar per measure (`measures` names and colours them),
 * each labelled with its value.
 */
export function barPlot(
  groups: BarGroup[],
  options: { title: string; yLabel: string; measures: { name: string; color: string }[]; note?: string },
): string {
  const width = 760;
  const height = 420;
  const left = 64;
  const right = 24;
  const top = 64;
  const bottom = 84;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...groups.flatMap((g) => g.values));
  const step = niceStep(max);
  const yMax = Math.ceil(max / step) * step;
  const y = (v: number) => top + (1 - v / yMax) * plotH;
  const body: string[] = [];
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    body.push(
      `<line x1="${left}" y1="${fixed(y(v))}" x2="${left + plotW}" y2="${fixed(y(v))}" stroke="#eeeeee"/>`,
      `<text x="${left - 8}" y="${fixed(y(v) + 4)}" text-anchor="end" font-size="11" fill="#444" ${FONT}>${fixed(v)}</text>`,
    );
  }
  const groupW = plotW / Math.max(1, groups.length);
  const barW = Math.min(36, (groupW * 0.7) / Math.max(1, options.measures.length));
  groups.forEach((group, g) => {
    const center = left + groupW * (g + 0.5);
    const start = center - (barW * options.measures.length) / 2;
    group.values.forEach((value, m) => {
      const bx = start + m * barW;
      const by = y(value);
      body.push(
        `<rect x="${fixed(bx)}" y="${fixed(by)}" width="${fixed(barW - 2)}" height="${fixed(top + plotH - by)}" fill="${options.measures[m]?.color ?? '#888'}"/>`,
        `<text x="${fixed(bx + (barW - 2) / 2)}" y="${fixed(by - 4)}" text-anchor="middle" font-size="10" ${FONT}>${fixed(value)}</text>`,
      );
    });
    body.push(
      `<text x="${fixed(center)}" y="${top + plotH + 18}" text-anchor="middle" font-size="11" ${FONT}>${escape(group.name)}</text>`,
    );
  });
  let lx = left;
  options.measures.forEach((measure) => {
    body.push(
      `<rect x="${lx}" y="38" width="14" height="12" fill="${measure.color}"/>`,
      `<text x="${lx + 20}" y="48" font-size="12" ${FONT}>${escape(measure.name)}</text>`,
    );
    // About 7 px a character at 12 px.
    lx += 20 + measure.name.length * 7 + 24;
  });
  body.push(
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#999"/>`,
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12" ${FONT}>${escape(options.yLabel)}</text>`,
  );
  if (options.note) body.push(...noteLines(options.note, left, height - 30, 120));
  return frame(width, height, options.title, body);
}

function niceStep(max: number): number {
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}
