import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config';

describe('configuration', () => {
  it('has defaults that need nothing set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      databaseUrl: undefined,
      jwtSecret: undefined,
      production: false,
      graphiql: true,
    });
    expect(config.dataDir).toBe(path.resolve('data'));
  });

  it('refuses production without a JWT_SECRET, or with a short one anywhere', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET is required/);
    expect(() => loadConfig({ JWT_SECRET: 'short' })).toThrow(ConfigError);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) })).toMatchObject({
      production: true,
      graphiql: false,
    });
  });

  it('says what is wrong with a bad value', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow('PORT must be a whole number from 0 to 65535, got "eighty".');
    expect(() => loadConfig({ GRAPHIQL: 'maybe' })).toThrow(/GRAPHIQL must be true or false/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL must start with postgresql/);
  });

  it('serves metrics by default, openly unless METRICS_TOKEN is set, and refuses a token a header cannot carry', () => {
    expect(loadConfig({})).toMatchObject({ metrics: true, metricsToken: undefined });
    expect(loadConfig({ METRICS: 'false', METRICS_TOKEN: ' s3cret ' })).toMatchObject({
      metrics: false,
      metricsToken: 's3cret',
    });
    expect(() => loadConfig({ METRICS_TOKEN: 'two words' })).toThrow(/METRICS_TOKEN must not contain whitespace/);
  });

  it('keeps the inbox at least as long as the event log it can be replayed from', () => {
    expect(loadConfig({}).notificationRetentionDays).toBe(180);
    expect(loadConfig({ EVENT_RETENTION_DAYS: '365' }).notificationRetentionDays).toBe(365);
    expect(() => loadConfig({ EVENT_RETENTION_DAYS: '30', NOTIFICATION_RETENTION_DAYS: '10' })).toThrow(
      'NOTIFICATION_RETENTION_DAYS (10) must be at least EVENT_RETENTION_DAYS (30).',
    );
  });

  it('logs at info, pretty only at a terminal outside production, and waits 10 s for requests when stopping', () => {
    expect(loadConfig({})).toMatchObject({ logLevel: 'info', shutdownTimeoutMs: 10_000 });
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).logPretty).toBe(false);
    expect(loadConfig({ LOG_LEVEL: 'DEBUG', LOG_PRETTY: 'true', SHUTDOWN_TIMEOUT_MS: '0' })).toMatchObject({
      logLevel: 'debug',
      logPretty: true,
      shutdownTimeoutMs: 0,
    });
    expect(() => loadConfig({ LOG_LEVEL: 'verbose' })).toThrow(
      'LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "verbose".',
    );
  });

  it('stops the server at start, with a clear message, in production without a secret', () => {
    const root = path.resolve(__dirname, '..');
    const result = spawnSync(process.execPath, [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'src/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', DATA_DIR: '/nonexistent/never-created' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Configuration error: JWT_SECRET is required when NODE_ENV=production');
  });
});
