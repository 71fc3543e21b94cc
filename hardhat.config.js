// Hardhat is used only as a local JSON-RPC node for the integration tests
// (`npx hardhat node --hostname 127.0.0.1 --port N`); contracts are compiled by contracts/compile.js.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: 'cancun',
      mining: { auto: true, interval: 0 },
    },
  },
  paths: { sources: './contracts/hardhat-unused', cache: './node_modules/.cache/hardhat' },
};
