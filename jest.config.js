// Jest runs the compiled ESM output in dist/ (tsc is the only TypeScript
// compiler in the project), so there is no transform step and no second
// opinion on types. Root-only namespace tests live beside the others: CI is root.
export default {
  testEnvironment: "node",
  roots: ["<rootDir>/dist"],
  testMatch: ["**/*.test.js"],
  transform: {},
  testTimeout: 60000,
  maxWorkers: 2,
  moduleFileExtensions: ["js", "json"],
};
