// tests/events/watch-fs.js - node's fs.watch on a file and on a directory:
// prints `file|dir EVENTTYPE FILENAME` per event, READY once both watch.
//   node watch-fs.js FILE DIR
'use strict';
const fs = require('fs');
const [file, dir] = process.argv.slice(2);

const watchers = [
	fs.watch(file, (type, name) => console.log(`file ${type} ${name}`)),
	fs.watch(dir, (type, name) => console.log(`dir ${type} ${name}`)),
];
for (const w of watchers)
	w.on('error', (err) => console.log(`error ${err.message}`));
console.log('READY');
const stop = () => {
	for (const w of watchers)
		w.close();
	process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
