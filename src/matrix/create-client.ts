import type { Config } from '../config.ts';
import { HttpMatrixClient, type MatrixClient } from './client.ts';

export function createMatrixClient(config: Config): MatrixClient | null {
  return config.MATRIX_HOMESERVER_URL && config.MATRIX_ACCESS_TOKEN
    ? new HttpMatrixClient(config.MATRIX_HOMESERVER_URL, config.MATRIX_ACCESS_TOKEN)
    : null;
}
