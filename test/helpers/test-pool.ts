// PostgreSQL connections each test Store keeps at most: pg's own default, below the server's (20, DATABASE_POOL_MAX).
// Test files run side by side against one database whose max_connections is 100 by default, often with two
// instances a test; the hot path's batching, not the pool, is what the tests exercise.
export const TEST_POOL_MAX = 10;
