import { DEFAULT_STORE_SPEC, type GraftStore, type StoreKind } from '../store/open.js';
import type { KeyStore } from './keys/key-store.js';
import { openServiceStoreWithHandles } from './store-handles.js';

/** The store a service runs on, with the key store in the same database. */
export interface ServiceStore {
  kind: StoreKind;
  store: GraftStore;
  keys: KeyStore;
  close(): Promise<void>;
}

export const DEFAULT_STORE = DEFAULT_STORE_SPEC;

/** The store spec from the environment: `GRAFT_STORE`, else `GRAFT_DATABASE_URL`, else the default. */
export function storeSpecFromEnv(env: Record<string, string | undefined> = process.env): string {
  return env.GRAFT_STORE || env.GRAFT_DATABASE_URL || DEFAULT_STORE;
}

/**
 * Opens graft's store from a spec — `memory`, `sqlite:PATH`, `postgres://…` — with the key store
 * in the same database (tables of its own). This is the one place the service and the CLI open a
 * store; a SQLite file's directory is created by the store.
 */
export async function openServiceStore(spec: string): Promise<ServiceStore> {
  return openServiceStoreWithHandles(spec);
}
