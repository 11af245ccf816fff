/**
 * The built-in queue board: an SVG template (title, the number being called and its counter, the
 * last calls, a clock) rendered to RGBA by resvg (Rust, compiled to wasm: shipped in its npm
 * package, no system library, no font download). Text is drawn with the font file the user names
 * (a .ttf, .otf or .ttc collection), so CJK text needs nothing but that file.
 */
import { readFileSync } from 'node:fs';
import { CodedError } from '../util/errors';

type ResvgModule = typeof import('@resvg/resvg-wasm');
let resvg: Promise<ResvgModule> | undefined;

/** resvg's wasm, compiled and instantiated once per process (initWasm refuses a second call). */
function loadResvg(): Promise<ResvgModule> {
  resvg ??= (async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('@resvg/resvg-wasm') as ResvgModule;
    const wasm = readFileSync(require.resolve('@resvg/resvg-wasm/index_bg.wasm'));
    await mod.initWasm(wasm);
    return mod;
  })();
  resvg.catch(() => (resvg = undefined));
  return resvg;
}

export interface BoardCall {
  /** the number being called, e.g. "A012" */
  number: string;
  /** where to go, e.g. "3" or "窗口 3" */
  counter?: string;
}

export interface BoardTemplate {
  /** the title line, e.g. "请到窗口办理" */
  title: string;
  /** label in front of the counter, e.g. "窗口 / Window" */
  counterLabel: string;
  /** heading of the last calls, e.g. "最近叫号 / Recent" */
  historyLabel: string;
  /** how many earlier calls to list (0–8) */
  historyCount: number;
}

export const DEFAULT_TEMPLATE: BoardTemplate = { title: '请到窗口办理 Now serving', counterLabel: '窗口 Window', historyLabel: '最近叫号 Recent', historyCount: 5 };

export interface BoardState {
  current?: BoardCall;
  /** earlier calls, newest first */
  history: BoardCall[];
  /** clock text, e.g. "14:05" */
  clock: string;
}

/** The template's own coordinate system: everything scales to the configured resolution. */
const VW = 1280;
const VH = 720;

/** Where the current number is drawn, in template units: the tests compare this region. */
export const NUMBER_REGION = { x: 40, y: 150, width: 780, height: 330 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A number drawn as large as it fits the number region (about 0.6 em per Latin character). */
function numberSize(text: string): number {
  const units = [...text].reduce((n, ch) => n + (ch.charCodeAt(0) > 0x2e80 ? 1 : 0.62), 0);
  return Math.max(60, Math.min(260, Math.floor((NUMBER_REGION.width - 40) / Math.max(1, units))));
}

/**
 * The board in two layers: what the template alone fixes (background, title bar, title, the
 * number's panel, the history heading), and what each state draws on top (clock, number, counter,
 * the last calls). Nothing of the second overlaps anything of the first but from above.
 */
function boardParts(t: BoardTemplate, s: BoardState): { fixed: string; changing: string } {
  const cur = s.current;
  const hist = s.history.slice(0, t.historyCount);
  const rows = hist
    .map((c, i) => {
      const y = 240 + i * 78;
      return `<rect x="872" y="${y - 50}" width="368" height="66" rx="10" fill="#ffffff" fill-opacity="${i === 0 ? 0.12 : 0.06}"/>` +
        `<text x="896" y="${y}" font-size="40" font-weight="bold" fill="#e8eef6">${esc(c.number)}</text>` +
        (c.counter ? `<text x="1216" y="${y}" font-size="34" fill="#9fb6d1" text-anchor="end">${esc(t.counterLabel.split(' ')[0])} ${esc(c.counter)}</text>` : '');
    })
    .join('');
  const fixed =
    `<defs><linearGradient id="bg" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#0d2c4f"/><stop offset="1" stop-color="#071a30"/></linearGradient></defs>` +
    `<rect width="${VW}" height="${VH}" fill="url(#bg)"/>` +
    `<rect width="${VW}" height="100" fill="#0a2340"/><rect y="100" width="${VW}" height="4" fill="#f5b700"/>` +
    `<text x="40" y="66" font-size="42" fill="#ffffff">${esc(t.title)}</text>` +
    `<rect x="${NUMBER_REGION.x}" y="${NUMBER_REGION.y}" width="${NUMBER_REGION.width}" height="${NUMBER_REGION.height}" rx="24" fill="#ffffff" fill-opacity="0.05"/>` +
    (t.historyCount > 0 ? `<text x="872" y="160" font-size="36" fill="#9fb6d1">${esc(t.historyLabel)}</text>` : '');
  const changing =
    `<text x="1240" y="68" font-size="46" fill="#f5b700" text-anchor="end">${esc(s.clock)}</text>` +
    (cur
      ? `<text x="${NUMBER_REGION.x + NUMBER_REGION.width / 2}" y="${NUMBER_REGION.y + NUMBER_REGION.height / 2}" dominant-baseline="central" text-anchor="middle" font-size="${numberSize(cur.number)}" font-weight="bold" fill="#ffd54a">${esc(cur.number)}</text>`
      : `<text x="${NUMBER_REGION.x + NUMBER_REGION.width / 2}" y="${NUMBER_REGION.y + NUMBER_REGION.height / 2}" dominant-baseline="central" text-anchor="middle" font-size="90" fill="#5d7a9a">— — —</text>`) +
    (cur?.counter
      ? `<text x="${NUMBER_REGION.x + NUMBER_REGION.width / 2}" y="600" text-anchor="middle" font-size="84" fill="#ffffff">${esc(t.counterLabel)}  <tspan fill="#ffd54a" font-weight="bold">${esc(cur.counter)}</tspan></text>`
      : '') +
    rows;
  return { fixed, changing };
}

const svgOf = (body: string, width: number, height: number, family: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${VW} ${VH}" font-family="${esc(family)}">${body}</svg>`;

/** The whole board as one SVG. */
export function boardSvg(t: BoardTemplate, s: BoardState, width: number, height: number, family: string): string {
  const { fixed, changing } = boardParts(t, s);
  return svgOf(fixed + changing, width, height, family);
}

export class BoardRenderer {
  private font: Uint8Array | undefined;

  /**
   * `fontFile`: a .ttf/.otf/.ttc the text is drawn with (read now: a missing file is a deploy
   * error, not a blank board later). Without one, text needs the fonts resvg finds on the system.
   */
  constructor(
    readonly width: number,
    readonly height: number,
    readonly template: BoardTemplate,
    fontFile?: string,
  ) {
    if (fontFile) {
      try {
        this.font = readFileSync(fontFile);
      } catch (e) {
        throw new CodedError('video.badFont', `the board's font file "${fontFile}" cannot be read: ${(e as Error).message}`, { file: fontFile, reason: (e as Error).message });
      }
    }
  }

  /** Loads the wasm renderer (once per process) so the first call draws without that delay. */
  async ready(): Promise<void> {
    await loadResvg();
  }

  /**
   * The board as RGBA pixels (width × height × 4). The template's fixed layer (a full-frame
   * gradient and panels: most of a drawing's time) is drawn once; each state then draws only its
   * own texts and rows, on a transparent layer laid over a copy of it.
   */
  async render(state: BoardState): Promise<Uint8Array> {
    const { fixed, changing } = boardParts(this.template, state);
    this.fixed ??= await this.draw(svgOf(fixed, this.width, this.height, 'sans-serif'), '#000000');
    const top = await this.draw(svgOf(changing, this.width, this.height, 'sans-serif'));
    return over(top, this.fixed);
  }

  /** The fixed layer, opaque (drawn on black), made on the first render */
  private fixed: Uint8Array | undefined;

  /** `svg` as premultiplied RGBA (resvg's pixels), on `background` or transparent. */
  private async draw(svg: string, background?: string): Promise<Uint8Array> {
    const { Resvg } = await loadResvg();
    // the font's own family name is not known without parsing it: '' plus a default family makes
    // resvg fall back to the first face loaded, which is the user's font
    const r = new Resvg(svg, {
      font: this.font ? { fontBuffers: [this.font], loadSystemFonts: false, defaultFontFamily: '', sansSerifFamily: '' } : { loadSystemFonts: true },
      ...(background ? { background } : {}),
    });
    try {
      const img = r.render();
      try {
        return img.pixels.slice();
      } finally {
        img.free();
      }
    } finally {
      r.free();
    }
  }
}

/**
 * `top` (premultiplied RGBA) laid over the opaque `below` ("source over"): a new opaque image.
 * Pixels `top` leaves transparent (nearly all) are copied as they are.
 */
export function over(top: Uint8Array, below: Uint8Array): Uint8Array {
  const out = below.slice();
  for (let i = 0; i < top.length; i += 4) {
    const a = top[i + 3];
    if (a === 0) continue;
    if (a === 255) {
      out[i] = top[i];
      out[i + 1] = top[i + 1];
      out[i + 2] = top[i + 2];
      continue;
    }
    const k = 255 - a;
    out[i] = top[i] + ((out[i] * k + 127) / 255) | 0;
    out[i + 1] = top[i + 1] + ((out[i + 1] * k + 127) / 255) | 0;
    out[i + 2] = top[i + 2] + ((out[i + 2] * k + 127) / 255) | 0;
  }
  return out;
}
