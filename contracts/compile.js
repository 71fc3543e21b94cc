#!/usr/bin/env node
// Compile contracts/src/*.sol with the pinned solc (npm package, bundled soljson: no download)
// and write contracts/artifacts/<Name>.json (ABI + bytecode). `--check` compares instead of
// writing and exits 1 when a committed artifact differs from a fresh compile.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const SRC = path.join(__dirname, 'src');
const OUT = path.join(__dirname, 'artifacts');
const DEPLOYABLE = ['EnergyPriceOracle', 'AnomalyRegistry', 'GridOptimizationRegistry', 'EnergySettlement'];
const SETTINGS = {
  optimizer: { enabled: true, runs: 10000 },
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

function compile() {
  const sources = {};
  for (const name of fs.readdirSync(SRC).filter((f) => f.endsWith('.sol')).sort()) {
    sources[name] = { content: fs.readFileSync(path.join(SRC, name), 'utf8') };
  }
  const input = { language: 'Solidity', sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + '\n');
  if (errors.length) process.exit(2);
  const artifacts = {};
  for (const [file, contracts] of Object.entries(output.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      if (!DEPLOYABLE.includes(name)) continue;
      const artifact = {
        contractName: name,
        sourceName: file,
        compiler: { name: 'solc', version: solc.version(), settings: { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion } },
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
  const artifacts = compile();
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
