#!/usr/bin/env node
// gentree.js - generate the bench tree: an app with a node_modules folder
// shaped like a real one, deterministically from a seed.
//
//   node gentree.js DIR SEED MIN_FILES MIN_DIRS STORM_NAMES
//
// DIR must not exist. Packages carry package.json, index.js, README.md,
// LICENSE, lib/*.js, sometimes lib/internal/*.js and a nested node_modules
// with a few packages of their own. File sizes are log-uniform between 100 B
// and 20 KB. Packages are added until the tree holds at least MIN_FILES
// files and MIN_DIRS directories. DIR/.bench/names.json receives
// STORM_NAMES [fromDir, request] pairs for storm.js: package names, deep
// requires with and without extension, requests from nested packages that
// resolve by walking up to the top level, and a few that do not resolve.
'use strict';
const fs = require('fs');
const path = require('path');

const [dir, seedArg, minFilesArg, minDirsArg, stormArg] = process.argv.slice(2);
if (!stormArg) {
	process.stderr.write('usage: gentree.js DIR SEED MIN_FILES MIN_DIRS STORM_NAMES\n');
	process.exit(2);
}
const minFiles = Number(minFilesArg);
const minDirs = Number(minDirsArg);
const stormCount = Number(stormArg);

// mulberry32: small, fast, and the same sequence on every Node version.
let state = Number(seedArg) >>> 0;
function rand() {
	state = (state + 0x6d2b79f5) >>> 0;
	let t = state;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (a) => a[Math.floor(rand() * a.length)];
const chance = (p) => rand() < p;

const SYL = ['ac', 'bel', 'cor', 'da', 'ex', 'fu', 'gra', 'hy', 'io', 'jet', 'ka', 'lo',
	'mi', 'nor', 'op', 'pre', 'qui', 'ra', 'sy', 'tu', 'ul', 'vex', 'wi', 'zo'];
const WORDS = ['util', 'parse', 'core', 'plugin', 'loader', 'stream', 'config', 'types',
	'cli', 'http', 'path', 'glob', 'color', 'debug', 'async', 'cache', 'map', 'ast'];
const LIBS = ['index', 'main', 'utils', 'helpers', 'parser', 'lexer', 'compile', 'format',
	'errors', 'constants', 'stream', 'buffer', 'event', 'options', 'normalize', 'walk'];

let files = 0;
let dirs = 0;
const used = new Set();

function mkdir(p) {
	fs.mkdirSync(p);
	dirs++;
}

function write(p, text) {
	fs.writeFileSync(p, text);
	files++;
}

// Source-like text of a log-uniform size between 100 B and 20 KB.
function body(header) {
	const size = Math.round(Math.exp(Math.log(100) + rand() * Math.log(200)));
	const lines = [header];
	let len = header.length + 1;
	while (len < size) {
		const w = pick(WORDS);
		const line = `function ${w}${len}(a, b) { return a ${pick(['+', '-', '*', '&&'])} b; } // ${pick(LIBS)}`;
		lines.push(line);
		len += line.length + 1;
	}
	return lines.join('\n').slice(0, size - 1) + '\n';
}

function newName() {
	for (;;) {
		let n = pick(SYL) + pick(SYL) + (chance(0.5) ? '-' + pick(WORDS) : pick(SYL));
		if (chance(0.08))
			n = '@' + pick(SYL) + pick(SYL) + '/' + n;
		if (!used.has(n)) {
			used.add(n);
			return n;
		}
	}
}

// One package at p; returns what storm.js can ask for about it.
function makePackage(parent, name, depth) {
	const p = path.join(parent, name);
	if (name.startsWith('@')) {
		const scope = path.join(parent, name.split('/')[0]);
		if (!fs.existsSync(scope))
			mkdir(scope);
	}
	mkdir(p);
	const libs = [];
	const libCount = depth ? between(1, 3) : between(2, 12);
	mkdir(path.join(p, 'lib'));
	const chosen = new Set();
	while (chosen.size < libCount)
		chosen.add(pick(LIBS));
	for (const l of chosen) {
		write(path.join(p, 'lib', l + '.js'), body(`'use strict'; // ${name}/lib/${l}`));
		libs.push('lib/' + l);
	}
	if (!depth && chance(0.4)) {
		mkdir(path.join(p, 'lib', 'internal'));
		for (let i = between(1, 6); i > 0; i--) {
			const l = `internal/${pick(LIBS)}${i}`;
			write(path.join(p, 'lib', l + '.js'), body(`'use strict'; // ${name}/lib/${l}`));
			libs.push('lib/' + l);
		}
	}
	const main = chance(0.3) ? 'lib/' + [...chosen][0] + '.js' : 'index.js';
	const pkg = {
		name,
		version: `${between(0, 9)}.${between(0, 30)}.${between(0, 20)}`,
		description: Array.from({ length: between(4, 40) }, () => pick(WORDS)).join(' '),
		license: 'MIT',
		main,
	};
	write(path.join(p, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
	write(path.join(p, 'index.js'), body(`module.exports = require('./${libs[0]}');`));
	write(path.join(p, 'README.md'), body(`# ${name}`));
	if (!depth)
		write(path.join(p, 'LICENSE'), body('MIT License'));
	const nested = [];
	if (!depth && chance(0.25)) {
		const nm = path.join(p, 'node_modules');
		mkdir(nm);
		for (let i = between(1, 3); i > 0; i--)
			nested.push(makePackage(nm, newName(), depth + 1));
	}
	return { name, dir: path.relative(dir, p), libs, nested };
}

fs.mkdirSync(dir, { recursive: true });
write(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench-app', private: true, description: 'the app whose modules bench/run resolves' }, null, 2) + '\n');
write(path.join(dir, '.gitignore'), '# written by bench/run, never committed\n/.bench/\n' + '#'.repeat(72) + '\n');
mkdir(path.join(dir, 'src'));
for (let i = 0; i < 40; i++)
	write(path.join(dir, 'src', `mod${i}.js`), body(`// app module ${i}`));
mkdir(path.join(dir, 'node_modules'));
const top = [];
while (files < minFiles || dirs < minDirs)
	top.push(makePackage(path.join(dir, 'node_modules'), newName(), 0));

// The storm: what an app and its dependencies ask for while loading.
const names = [];
const topNames = top.map((t) => t.name);
const withNested = top.filter((t) => t.nested.length);
while (names.length < stormCount) {
	const t = pick(top);
	const r = rand();
	if (r < 0.3)
		names.push(['src', t.name]);
	else if (r < 0.55)
		names.push(['src', `${t.name}/${pick(t.libs)}`]);
	else if (r < 0.65)
		names.push(['src', `${t.name}/${pick(t.libs)}.js`]);
	else if (r < 0.9 && withNested.length) {
		// From inside a nested package: its siblings, and hoisted packages
		// found only after walking up past its own node_modules.
		const owner = pick(withNested);
		const n = pick(owner.nested);
		names.push([n.dir, chance(0.3) ? pick(owner.nested).name : pick(topNames)]);
	} else if (r < 0.98)
		names.push([t.dir, pick(topNames)]);
	else
		names.push(['src', `${t.name}-missing`]);
}
fs.mkdirSync(path.join(dir, '.bench'));
fs.writeFileSync(path.join(dir, '.bench', 'names.json'), JSON.stringify(names) + '\n');
process.stdout.write(`files=${files} dirs=${dirs} packages=${top.length} names=${names.length}\n`);
