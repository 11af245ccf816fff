/**
 * The editor as a user meets it, in a real browser: Debian's chromium driven by playwright-core
 * against a real Node-RED (4.1.x) with this package linked in. Checks the palette, every node's
 * edit dialog and help (en-US and zh-CN), and that every example flow imports and deploys
 * without an error notification. Screenshots go to .test-output/screenshots/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { declaredTypes, linkPackage, makeUserDir, repoRoot, startNodeRed, type NodeRedProcess } from '../support/node-red-process';
import { CHROMIUM, missingPeer } from '../support/peers';

// page-side code runs in the browser; these are its globals (the project compiles without lib.dom)
declare const window: any;
declare const document: any;

const CATEGORY_ID = 'red-ui-palette-container-live_audio';
const shots = path.join(repoRoot, '.test-output', 'screenshots');

let red: NodeRedProcess;
let browser: Browser;
let page: Page;
let types: Array<{ type: string; config: boolean }> = [];
const pageErrors: string[] = [];

interface NodeSet {
  module: string;
  types: string[];
}

before(async () => {
  if (missingPeer('chromium')) return;
  fs.mkdirSync(shots, { recursive: true });
  const userDir = makeUserDir('live-audio-editor-');
  linkPackage(userDir);
  red = await startNodeRed({ userDir, flows: [] });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await openEditor(page);
  const sets = ((await (await fetch(`${red.url}/nodes`, { headers: { Accept: 'application/json' } })).json()) as NodeSet[]).filter(
    (s) => s.module === 'node-red-contrib-live-audio',
  );
  const all = sets.flatMap((s) => s.types);
  types = await page.evaluate(
    (ts) => ts.map((t) => ({ type: t, config: (window as any).RED.nodes.getType(t)?.category === 'config' })),
    all,
  );
});

after(async () => {
  await browser?.close();
  await red?.stop();
  if (red) fs.rmSync(red.userDir, { recursive: true, force: true });
});

async function openEditor(p: Page, lang?: string): Promise<void> {
  await p.goto(`${red.url}/${lang ? `?lang=${lang}` : ''}`);
  await p.waitForSelector('#red-ui-palette-search', { timeout: 60_000 });
  // the palette is filled after the node definitions load
  await p.waitForFunction(() => (window as any).RED?.nodes?.getType?.('inject') !== undefined, undefined, { timeout: 60_000 });
  // and the flows are loaded (loadFlows sets the revision, then marks the workspace clean):
  // an import before that would be wiped out of the dirty state
  await p.waitForFunction(() => Boolean(window.RED.nodes.version()), undefined, { timeout: 60_000, polling: 100 });
}

test('the palette shows every node of ours in the "live audio" category', { skip: missingPeer('chromium') }, async () => {
  const palette = types.filter((t) => !t.config).map((t) => t.type);
  // every node set the package declares is registered (each set here is named after its type)
  const registered = types.map((t) => t.type);
  for (const name of declaredTypes()) assert.ok(registered.includes(name), `${name} is registered in the editor`);
  assert.ok(palette.length > 0, 'our nodes are in the palette');
  for (const type of palette) {
    const el = page.locator(`#${CATEGORY_ID} .red-ui-palette-node[data-palette-type="${type}"]`);
    await el.waitFor({ state: 'visible', timeout: 10_000 });
    // its label comes from the catalog (a missing key would show as "<type>.label.palette")
    const text = (await el.innerText()).trim();
    assert.ok(text && !/^[\w-]+\.[\w.]+$/.test(text), `${type}: palette label "${text}"`);
  }
  if (palette.length) await page.locator(`#${CATEGORY_ID}`).screenshot({ path: path.join(shots, 'palette.png') });
  assert.deepEqual(pageErrors, []);
});

for (const lang of ['en-US', 'zh-CN']) {
  test(`every node's edit dialog opens and its help shows (${lang})`, { skip: missingPeer('chromium') }, async () => {
    // the editor takes its language from the browser's (the ?lang= query alone does not switch it)
    const p = await browser.newPage({ viewport: { width: 1400, height: 900 }, locale: lang });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    try {
      await openEditor(p, lang);
      // the palette category is named in the editor's language too
      const category = lang === 'zh-CN' ? '实时音频' : 'live audio';
      assert.equal(await p.locator('.red-ui-palette-header span', { hasText: category }).count(), 1, `palette category "${category}" (${lang})`);
      for (const { type, config } of types) {
        // add the node as the palette's drag would, then open its editor
        const id = await p.evaluate(
          ({ t, isConfig }) => {
            const RED = (window as any).RED;
            const def = RED.nodes.getType(t);
            const n: any = { id: RED.nodes.id(), type: t, _def: def, changed: true, dirty: true, x: 300, y: 200 };
            n.z = isConfig ? undefined : RED.workspaces.active();
            for (const [k, v] of Object.entries(def.defaults ?? {})) n[k] = (v as any).value;
            if (isConfig) n.users = [];
            RED.nodes.add(n);
            RED.view.redraw(true);
            if (isConfig) RED.editor.editConfig('', t, n.id);
            else RED.editor.edit(n);
            return n.id as string;
          },
          { t: type, isConfig: config },
        );
        const tray = p.locator('.red-ui-tray').last();
        await tray.waitFor({ state: 'visible', timeout: 10_000 });
        // the dialog has rendered its form rows, and their labels are translated (no raw keys)
        await p.waitForFunction(() => document.querySelectorAll('.red-ui-tray .form-row').length > 0, undefined, { timeout: 10_000 });
        const labels = await p.locator('.red-ui-tray .form-row label').allInnerTexts();
        for (const l of labels) assert.ok(!/\w+\.label\.\w+/.test(l), `${type} (${lang}): untranslated label "${l}"`);
        // every option of every drop-down fits its box (a long translation is not cut off)
        const cut = await p.evaluate(() => {
          const ctx = document.createElement('canvas').getContext('2d');
          const bad: string[] = [];
          for (const sel of document.querySelectorAll('.red-ui-tray select')) {
            if (sel.offsetParent === null) continue; // a row hidden in this mode
            ctx.font = window.getComputedStyle(sel).font;
            // the arrow and the padding take about 30 px of the box
            for (const o of sel.options) {
              const w = Math.ceil(ctx.measureText(o.text).width);
              if (w + 30 > sel.clientWidth) bad.push(`${sel.id}: "${o.text}" (${w} px of text in a ${sel.clientWidth} px box)`);
            }
          }
          return bad;
        });
        assert.deepEqual(cut, [], `${type} (${lang}): drop-down options cut off`);
        if (lang === 'en-US' && !config) await p.screenshot({ path: path.join(shots, `edit-${type}.png`) });
        await p.locator('.red-ui-tray').last().locator('button:has-text("Cancel"), button:has-text("取消")').first().click();
        await tray.waitFor({ state: 'detached', timeout: 10_000 }).catch(() => undefined);
        // help: the sidebar's help for the type has a first paragraph and the standard sections
        const help = await p.evaluate((t) => {
          const RED = (window as any).RED;
          RED.sidebar.help.show(t);
          // the sidebar renders this HTML (RED.nodes.getNodeHelp) under the node's title
          const div = document.createElement('div');
          div.innerHTML = RED.nodes.getNodeHelp(t) ?? '';
          return div.textContent ?? '';
        }, type);
        assert.ok(help.trim().length > 80, `${type} (${lang}) has help text, got ${JSON.stringify(help.slice(0, 80))}`);
        if (!config) assert.match(help, lang === 'zh-CN' ? /输入|输出|Inputs|Outputs/ : /Inputs|Outputs/, `${type} (${lang}) help has Inputs/Outputs`);
        await p.evaluate((nid) => {
          const RED = (window as any).RED;
          RED.nodes.remove(nid);
          RED.view.redraw(true);
        }, id);
      }
      assert.deepEqual(errors, [], `page errors (${lang})`);
    } finally {
      await p.close();
    }
  });
}

test('whep-in: the ICE servers field is a validated credential, kept out of the exported flow', { skip: missingPeer('chromium') }, async () => {
  const p = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    await openEditor(p);
    const id = await p.evaluate(() => {
      const RED = window.RED;
      const def = RED.nodes.getType('whep-in');
      const n: any = { id: RED.nodes.id(), type: 'whep-in', _def: def, changed: true, dirty: true, x: 300, y: 200, z: RED.workspaces.active() };
      for (const [k, v] of Object.entries(def.defaults)) n[k] = (v as any).value;
      n.url = 'http://127.0.0.1:9/whep';
      RED.nodes.add(n);
      RED.view.redraw(true);
      RED.editor.edit(n);
      return n.id as string;
    });
    await p.waitForSelector('#node-input-iceServers', { state: 'visible', timeout: 10_000 });
    const field = '#node-input-iceServers';
    const hasError = () => p.evaluate((sel) => document.querySelector(sel).classList.contains('input-error'), field);
    await p.fill(field, 'http://not-an-ice-server');
    await p.dispatchEvent(field, 'change');
    await p.waitForFunction((sel) => document.querySelector(sel).classList.contains('input-error'), field, { timeout: 10_000 });
    await p.fill(field, 'stun:stun.example.com:3478\nturn:turn.example.com:3478 alice s3cret');
    await p.dispatchEvent(field, 'change');
    await p.waitForFunction((sel) => !document.querySelector(sel).classList.contains('input-error'), field, { timeout: 10_000 });
    assert.equal(await hasError(), false);
    await p.locator('.red-ui-tray').last().locator('#node-dialog-ok').click();
    await p.locator('.red-ui-tray').waitFor({ state: 'detached', timeout: 10_000 }).catch(() => undefined);
    const saved = await p.evaluate((nid) => {
      const RED = window.RED;
      const n = RED.nodes.node(nid);
      return { creds: n.credentials, exported: JSON.stringify(RED.nodes.convertNode(n, false)) };
    }, id);
    assert.match(saved.creds?.iceServers ?? '', /turn:turn\.example\.com:3478 alice s3cret/);
    assert.doesNotMatch(saved.exported, /s3cret|iceServers/, 'the exported node carries no ICE servers');
  } finally {
    await p.close();
  }
});

test('whep-in: a node from before the rename (idleMs, retryMaxMs in seconds) keeps its values through the editor', async () => {
  const p = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    await openEditor(p);
    // as loading an old flow does: the node has the old names only
    const id = await p.evaluate(() => {
      const RED = window.RED;
      const old = { id: RED.nodes.id(), type: 'whep-in', z: RED.workspaces.active(), x: 300, y: 300, name: 'old', mode: 'static', url: 'http://127.0.0.1:9/whep', idleMs: 9, retryMaxMs: 12, wires: [[], []] };
      RED.view.importNodes([old], { generateIds: false, addFlow: false, touchImport: true });
      return old.id as string;
    });
    await p.keyboard.press('Escape');
    const untouched = await p.evaluate((nid) => JSON.stringify(window.RED.nodes.convertNode(window.RED.nodes.node(nid), false)), id);
    assert.match(untouched, /"idleMs":9/, 'not opened in the editor: the old value is still exported');
    assert.match(untouched, /"retryMaxMs":12/);
    await p.evaluate((nid) => window.RED.editor.edit(window.RED.nodes.node(nid)), id);
    await p.waitForSelector('#node-input-idleS', { state: 'visible', timeout: 10_000 });
    assert.equal(await p.inputValue('#node-input-idleS'), '9', 'the old value shown under the new name');
    assert.equal(await p.inputValue('#node-input-retryMaxS'), '12');
    await p.locator('.red-ui-tray').last().locator('#node-dialog-ok').click();
    await p.locator('.red-ui-tray').waitFor({ state: 'detached', timeout: 10_000 }).catch(() => undefined);
    const saved = JSON.parse(await p.evaluate((nid) => JSON.stringify(window.RED.nodes.convertNode(window.RED.nodes.node(nid), false)), id)) as Record<string, unknown>;
    assert.equal(String(saved.idleS), '9');
    assert.equal(String(saved.retryMaxS), '12');
    assert.ok(!saved.idleMs && !saved.retryMaxMs, `the old names are cleared once saved: ${JSON.stringify(saved)}`);
  } finally {
    await p.close();
  }
});

for (const [lang, expected] of [
  ['en-US', ['expected a number from 0 to 86400', 'expected a whole number from 1 to 10000']],
  ['zh-CN', ['应为 0 到 86400 之间的数字', '应为 1 到 10000 之间的整数']],
] as const) {
  test(`a number out of range marks the node invalid with the reason, translated (${lang})`, async () => {
    // a page of its own in that browser language (the editor follows the browser's, not ?lang=)
    const p = await browser.newPage({ viewport: { width: 1400, height: 900 }, locale: lang });
    const seen: string[] = [];
    p.on('pageerror', (e) => seen.push(e.message));
    await openEditor(p, lang);
    const errors = await p.evaluate(() => {
      const R = window.RED;
      R.view.importNodes([
        { id: 'bad-rs', type: 'resample', outRate: 16000, outChannels: '1', mix: 'average', quality: 'standard', idleTimeout: 'soon', x: 200, y: 100, wires: [] },
        { id: 'bad-sl', type: 'stream-lease', broker: 'mqtt://127.0.0.1:1883', maxStreams: 'lots', leaseS: 15, takeoverS: 2, x: 200, y: 200, wires: [[], []] },
      ], { generateIds: false, addFlow: false, touchImport: true });
      return ['bad-rs', 'bad-sl'].map((id) => {
        const n = R.nodes.node(id);
        R.editor.validateNode(n);
        return { valid: n.valid, errors: n.validationErrors };
      });
    });
    for (const [i, text] of expected.entries()) {
      assert.equal(errors[i].valid, false, JSON.stringify(errors[i]));
      assert.ok(errors[i].errors.some((e: string) => e.includes(text)), `${lang}: ${JSON.stringify(errors[i].errors)} names the range`);
    }
    await p.close();
    assert.deepEqual(seen, []);
  });
}

const examples = fs.existsSync(path.join(repoRoot, 'examples'))
  ? fs.readdirSync(path.join(repoRoot, 'examples')).filter((f) => f.endsWith('.json')).sort()
  : [];

test('every example imports and deploys with no error notification', { skip: missingPeer('chromium') }, async () => {
  for (const file of examples) {
    // start from an empty workspace each time
    await fetch(`${red.url}/flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify([]),
    });
    await openEditor(page);
    const flow = JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', file), 'utf8'));
    // as Import does: the nodes hang on the mouse until a click on the workspace places them
    await page.evaluate((f) => (window as any).RED.view.importNodes(f, { generateIds: true }), flow);
    await page.mouse.move(500, 300);
    await page.mouse.move(520, 320);
    await page.mouse.down();
    await page.mouse.up();
    await page.waitForFunction(() => window.RED.nodes.dirty(), undefined, { timeout: 10_000, polling: 100 });
    // the deploy's own request: a confirmation dialog (e.g. "not properly configured") instead
    // of a POST means the example has invalid nodes
    const posted = page.waitForResponse((r) => r.url().endsWith('/flows') && r.request().method() === 'POST', { timeout: 30_000 });
    await page.locator('#red-ui-header-button-deploy').click();
    const resp = await posted.catch(async (e: Error) => {
      await page.screenshot({ path: path.join(shots, `deploy-failed-${file}.png`) });
      const shown = await page.locator('.red-ui-notification, .ui-dialog').allInnerTexts();
      const state = await page.evaluate(() => ({ dirty: window.RED.nodes.dirty(), disabled: document.querySelector('#red-ui-header-button-deploy')?.className }));
      throw new Error(`${file}: no deploy (${e.message}); on screen: ${shown.join(' | ')}; page errors: ${pageErrors.join(' | ')}; ${JSON.stringify(state)}`);
    });
    assert.equal(resp.status(), 200, `${file}: deploy answered ${resp.status()} ${await resp.text()}`);
    await page.waitForFunction(() => !window.RED.nodes.dirty(), undefined, { timeout: 10_000, polling: 100 });
    const notes = await page.locator('.red-ui-notification').allInnerTexts();
    const bad = await page.locator('.red-ui-notification-error, .red-ui-notification-warning').allInnerTexts();
    assert.deepEqual(bad, [], `${file}: ${notes.join(' | ')}`);
    // and the runtime has it: every node type of the example is in the deployed flows
    const deployed = (await (await fetch(`${red.url}/flows`)).json()) as Array<{ type: string }>;
    for (const t of new Set((flow as Array<{ type: string }>).map((n) => n.type))) {
      assert.ok(deployed.some((n) => n.type === t), `${file}: ${t} deployed`);
    }
  }
  assert.deepEqual(pageErrors, []);
});
