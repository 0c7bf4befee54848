/**
 * Benchmarks run the server as the Docker image does, under NODE_ENV=production (unless told
 * otherwise): graphql-js's development build checks every failed `instanceof` for a class loaded
 * twice, which cost the import benchmark about 40 ms of each 10,000-item request. Imported first,
 * before graphql-js reads the setting.
 */
process.env.NODE_ENV ??= 'production';
