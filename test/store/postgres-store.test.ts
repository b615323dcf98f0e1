import { storeContract } from './store-contract.js';
import { describePostgres, tempPostgresStore } from './postgres-support.js';

// The same contract suite as SQLite, each test in a schema of its own that is dropped afterwards.
describePostgres('PostgreSQL store: the shared contract', () => storeContract('postgres', () => tempPostgresStore()));
