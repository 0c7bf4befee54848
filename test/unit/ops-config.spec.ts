import { loadConfig } from '../../src/config';

describe('operations settings', () => {
  it('reads the CORS allowlist, introspection, APQ and persisted-documents roles', () => {
    const config = loadConfig({
      QUARRY_CORS_ORIGINS: 'https://a.example, https://b.example',
      QUARRY_INTROSPECTION: 'off',
      QUARRY_APQ: 'false',
      QUARRY_PERSISTED_DOCUMENTS_ONLY_ROLES: 'annotator',
      QUARRY_METRICS_TOKEN: 'tok',
      QUARRY_METRICS_PORT: '9464',
      QUARRY_SLOW_REQUEST_MS: '250',
      QUARRY_WEBHOOK_MAX_ATTEMPTS: '3',
    });
    expect(config).toMatchObject({
      corsOrigins: ['https://a.example', 'https://b.example'],
      introspection: false,
      apq: false,
      persistedDocumentsOnlyRoles: ['ANNOTATOR'],
      metricsToken: 'tok',
      metricsPort: 9464,
      metricsHost: '127.0.0.1',
      slowRequestMs: 250,
      webhookMaxAttempts: 3,
    });
  });

  it('keeps the defaults: any origin, APQ on, introspection unless NODE_ENV=production', () => {
    expect(loadConfig({})).toMatchObject({ corsOrigins: ['*'], apq: true, introspection: true });
    expect(loadConfig({ NODE_ENV: 'production' }).introspection).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', QUARRY_INTROSPECTION: 'true' }).introspection).toBe(
      true,
    );
  });

  it('refuses values it cannot read, naming the variable', () => {
    expect(() => loadConfig({ QUARRY_APQ: 'maybe' })).toThrow(/QUARRY_APQ must be true or false/);
    expect(() => loadConfig({ QUARRY_PERSISTED_DOCUMENTS_ONLY_ROLES: 'ANNOTATOR,ROOT' })).toThrow(
      /QUARRY_PERSISTED_DOCUMENTS_ONLY_ROLES .*"ROOT"/,
    );
    expect(() => loadConfig({ QUARRY_WEBHOOK_MAX_ATTEMPTS: '0' })).toThrow(
      /QUARRY_WEBHOOK_MAX_ATTEMPTS/,
    );
  });
});
