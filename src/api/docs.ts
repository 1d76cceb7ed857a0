import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Hono } from 'hono';
import type { AuthEnv } from './auth.ts';
import { swaggerUI } from '@hono/swagger-ui';

const ASSETS = '/docs/assets';
/** The two files the Swagger UI page loads, from the swagger-ui-dist package (no CDN: /docs works offline). */
const FILES = { 'swagger-ui.css': 'text/css; charset=utf-8', 'swagger-ui-bundle.js': 'text/javascript; charset=utf-8' } as const;

export function docsRoutes(app: Hono<AuthEnv>) {
  const dir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const files = new Map(Object.entries(FILES).map(([name, type]) => [name, { type, body: readFileSync(join(dir, name)) }]));
  app.get('/docs', swaggerUI({ url: '/openapi.json', baseUrl: ASSETS, title: 'meetflow API' }));
  app.get(`${ASSETS}/swagger-ui-dist/:file`, (c) => {
    const file = files.get(c.req.param('file'));
    if (!file) return c.json({ error: { code: 'not_found', message: 'no such file' } }, 404);
    return c.body(file.body, 200, { 'Content-Type': file.type, 'Cache-Control': 'public, max-age=86400' });
  });
}
