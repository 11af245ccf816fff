#!/usr/bin/env node
// `npm start`: runs Node-RED on 127.0.0.1:1880 with a user directory inside the project
// (.node-red-demo, git-ignored) and this package loaded, as if installed from the palette.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const root = path.resolve(__dirname, '..');
const userDir = path.join(root, '.node-red-demo');
const port = Number(process.env.PORT || 1880);

fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
// Node-RED scans <userDir>/node_modules for packages with a "node-red" section: link ours in.
const link = path.join(userDir, 'node_modules', 'node-red-contrib-live-audio');
try { fs.rmSync(link, { recursive: true, force: true }); } catch { /* absent */ }
fs.symlinkSync(root, link, 'dir');
fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'live-audio-demo', private: true, dependencies: { 'node-red-contrib-live-audio': 'file:..' } }, null, 2));
fs.writeFileSync(
  path.join(userDir, 'settings.js'),
  `module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${port},
  flowFile: 'flows.json',
  credentialSecret: 'live-audio-demo',
  editorTheme: { tours: false, projects: { enabled: false } },
  logging: { console: { level: 'info' } },
};
`,
);

const red = require.resolve('node-red/red.js', { paths: [root] });
const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], { stdio: 'inherit' });
console.log(`Node-RED with node-red-contrib-live-audio: open http://127.0.0.1:${port}/  (Ctrl-C stops)`);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill('SIGINT'));
child.on('exit', (code) => process.exit(code ?? 0));
