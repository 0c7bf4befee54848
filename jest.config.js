/** Tests are compiled by `tsc` first (`npm run build`), so worker threads and child processes
 * run the same JavaScript as production. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.spec.js'],
  testTimeout: 60000,
  maxWorkers: 2,
  setupFiles: ['<rootDir>/dist/test/helpers/setup.js'],
  globalSetup: '<rootDir>/dist/test/helpers/global-setup.js',
};
