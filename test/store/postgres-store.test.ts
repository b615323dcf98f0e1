import { it } from 'vitest';
import { storeContract } from './store-contract.js';
import { postgresUrl, tempPostgresStore } from './postgres-support.js';

// The same contract suite as SQLite, each test in a schema of its own that is dropped afterwards.
if (postgresUrl) storeContract('postgres', () => tempPostgresStore());
else it.skip('Store contract: postgres (SLUICE_TEST_DATABASE_URL not set)', () => {});
