#!/usr/bin/env node
// Compile contracts/src/**.sol with the pinned solc (npm package, bundled soljson: no download)
// and write contracts/artifacts/<Name>.json (ABI + bytecode). Imports of
// `@openzeppelin/contracts/...` are read from node_modules, at the version pinned in
// package.json (checked). `--check` compares instead of writing and exits 1 when a committed
// artifact differs from a fresh compile.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const ROOT = path.join(__dirname, '..');
const SRC = path.join(__dirname, 'src');
const OUT = path.join(__dirname, 'artifacts');
const LIBRARY = '@openzeppelin/contracts';
const LIBRARY_DIR = path.join(ROOT, 'node_modules', ...LIBRARY.split('/'));
const DEPLOYABLE = [
  'EnergyPriceOracle', 'AnomalyRegistry', 'GridOptimizationRegistry', 'EnergySettlement', 'TestToken',
  'EnergyPriceOraclePlainLoop', // benchmark only: src/bench/
];
const SETTINGS = {
  optimizer: { enabled: true, runs: 10000 },
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

function fail(message) {
  process.stderr.write(message + '\n');
  process.exit(2);
}

/** The installed OpenZeppelin version, refusing one other than package.json pins. */
function libraryVersion() {
  const pinned = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).devDependencies[LIBRARY];
  let installed;
  try {
    installed = JSON.parse(fs.readFileSync(path.join(LIBRARY_DIR, 'package.json'), 'utf8')).version;
  } catch (err) {
    fail(`${LIBRARY} is not installed: run \`npm ci\``);
  }
  if (installed !== pinned) fail(`${LIBRARY} ${installed} is installed but package.json pins ${pinned}: run \`npm ci\``);
  return installed;
}

/** solc import callback: only files inside the pinned OpenZeppelin package. */
function findImports(importPath) {
  if (!importPath.startsWith(LIBRARY + '/')) return { error: `import ${importPath}: only ${LIBRARY}/... may be imported` };
  const file = path.resolve(LIBRARY_DIR, importPath.slice(LIBRARY.length + 1));
  if (!file.startsWith(LIBRARY_DIR + path.sep)) return { error: `import ${importPath} leaves ${LIBRARY}` };
  try {
    return { contents: fs.readFileSync(file, 'utf8') };
  } catch (err) {
    return { error: `import ${importPath}: ${err.code || err.message}` };
  }
}

/** contracts/src/**.sol, keyed by their path under src/ (so relative imports resolve). */
function readSources(dir = SRC, prefix = '') {
  const sources = {};
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.isDirectory()) Object.assign(sources, readSources(path.join(dir, entry.name), prefix + entry.name + '/'));
    else if (entry.name.endsWith('.sol')) sources[prefix + entry.name] = { content: fs.readFileSync(path.join(dir, entry.name), 'utf8') };
  }
  return sources;
}

function compile(library) {
  const sources = readSources();
  const input = { language: 'Solidity', sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + '\n');
  if (errors.length) process.exit(2);
  const artifacts = {};
  for (const [file, contracts] of Object.entries(output.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      if (!DEPLOYABLE.includes(name) || file.startsWith(LIBRARY)) continue;
      const artifact = {
        contractName: name,
        sourceName: file,
        compiler: {
          name: 'solc',
          version: solc.version(),
          settings: { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion },
          libraries: { [LIBRARY]: library },
        },
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      };
      artifacts[name] = JSON.stringify(artifact, null, 2) + '\n';
    }
  }
  return artifacts;
}

function main() {
  const check = process.argv.includes('--check');
  const artifacts = compile(libraryVersion());
  let stale = 0;
  for (const [name, text] of Object.entries(artifacts)) {
    const file = path.join(OUT, name + '.json');
    if (check) {
      const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
      if (committed !== text) {
        process.stderr.write(`artifact ${name}.json differs from a fresh compile of the sources\n`);
        stale += 1;
      }
    } else {
      fs.mkdirSync(OUT, { recursive: true });
      fs.writeFileSync(file, text);
      process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
    }
  }
  if (stale) process.exit(1);
  if (check) process.stdout.write(`${Object.keys(artifacts).length} artifacts match solc ${solc.version()}\n`);
}

main();
