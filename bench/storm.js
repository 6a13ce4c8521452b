// storm.js - the module-resolution storm of bench/run. It is copied into the
// bench tree (TREE/.bench/) and run from there, through each mount, so that
// every lookup goes through the file system under test:
//
//   node TREE/.bench/storm.js
//
// It resolves every [fromDir, request] pair of names.json (written by
// gentree.js) with require.resolve as seen from a file in fromDir, and
// prints seconds=, resolved= and missing=.
'use strict';
const path = require('path');
const { createRequire } = require('module');

const root = path.dirname(__dirname);
const names = require('./names.json');
const requires = new Map();
let resolved = 0;
let missing = 0;

const t0 = process.hrtime.bigint();
for (const [from, request] of names) {
	let req = requires.get(from);
	if (!req) {
		req = createRequire(path.join(root, from, 'noop.js'));
		requires.set(from, req);
	}
	try {
		req.resolve(request);
		resolved++;
	} catch (e) {
		if (e.code !== 'MODULE_NOT_FOUND')
			throw e;
		missing++;
	}
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(`seconds=${seconds.toFixed(6)} resolved=${resolved} missing=${missing}\n`);
