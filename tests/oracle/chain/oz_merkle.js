// Reads [{types, values}] as JSON on stdin and prints, per tree, what @openzeppelin/merkle-tree's
// StandardMerkleTree makes of it: root, and per value (in the order given) its leaf hash and
// proof. Numbers travel as decimal strings. Used by test_merkle_openzeppelin.py.
'use strict';
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = input.map(({ types, values }) => {
  const tree = StandardMerkleTree.of(values, types);
  return {
    root: tree.root,
    leaves: values.map((v) => tree.leafHash(v)),
    proofs: values.map((_, i) => tree.getProof(i)),
  };
});
process.stdout.write(JSON.stringify(out));
