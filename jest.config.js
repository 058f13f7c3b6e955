// Jest runs the compiled ESM output in dist/ (tsc is the only TypeScript
// compiler in the project), so there is no transform step and no second
// opinion on types. Root-only namespace tests live beside the others: CI is root.
// The skip gate (test/skip-gate/) fails the run when a test did not run and
// test/skip-allowlist.json does not say why, or when that list is stale.
export default {
  testEnvironment: "node",
  roots: ["<rootDir>/dist"],
  testMatch: ["**/*.test.js"],
  transform: {},
  testTimeout: 60000,
  maxWorkers: 2,
  moduleFileExtensions: ["js", "json"],
  reporters: [
    "default",
    ["<rootDir>/dist/test/skip-gate/reporter.js", { allowlist: "test/skip-allowlist.json" }],
  ],
};
