// tests/events/watch-chokidar.js - chokidar on a directory, native events
// only (no polling): prints `EVENT RELPATH` per change and READY once the
// initial scan is done.
//   node watch-chokidar.js NODE_MODULES DIR
'use strict';
const path = require('path');
const [modules, dir] = process.argv.slice(2);
const chokidar = require(path.join(modules, 'chokidar'));

const watcher = chokidar.watch(dir, {
	usePolling: false,
	ignoreInitial: true,
	// Report each change as it comes: the test checks delivery, not settling.
	awaitWriteFinish: false,
	atomic: false,
});
watcher.on('all', (event, p) => console.log(`${event} ${path.relative(dir, p)}`));
watcher.on('error', (err) => console.log(`error ${err.message}`));
watcher.on('ready', () => console.log('READY'));
const stop = () => watcher.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
