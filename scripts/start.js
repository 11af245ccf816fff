#!/usr/bin/env node
// `npm start` (after `npm run build`): the demo — Node-RED on 127.0.0.1:1880 with this package
// and the example flows deployed, plus the local peers they talk to. See demo/start.ts.
'use strict';
require('../dist/demo/start.js').main();
