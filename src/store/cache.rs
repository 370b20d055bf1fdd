//! The writer connection's page cache, sized by the store's item count.
//!
//! Every new item reads pages at random places: the rows of its duplicate candidates, until
//! migration 0014 their screens (about 150 bytes per stored item), and until migration 0013 a
//! leaf of the customer index (80 bytes). Between two visits of the same page the writer touches many others, so the cache must hold
//! far more than those structures for the visits to hit it. With a fixed 256 MiB the writer's time per item
//! jumped by a fifth once a million-item import passed 750k items (from then on the inserts read
//! pages back from the file); 512 bytes per stored item keeps the cache ahead of it
//! (docs/PERFORMANCE.md, session 15).

use sqlx::sqlite::SqliteConnection;

use crate::error::Result;

/// The cache of a small store.
const MIN_CACHE_BYTES: u64 = 256 << 20;
/// Cache per stored item beyond [`MIN_CACHE_BYTES`].
const CACHE_BYTES_PER_ITEM: u64 = 512;
/// The cache is sized again after this many new items.
const RESIZE_EVERY_ITEMS: u64 = 1 << 16;

/// The cache size for a store of `items` items, in KiB.
fn cache_kib(items: u64) -> u64 {
    MIN_CACHE_BYTES.max(items.saturating_mul(CACHE_BYTES_PER_ITEM)) >> 10
}

/// What the writer's cache was last sized for.
#[derive(Default)]
pub(super) struct WriterCache {
    sized_for: Option<u64>,
}

impl WriterCache {
    /// A cache sized for the items already stored, before the writer's tables are loaded, so
    /// that the load leaves the newest items' rows (the likeliest duplicate candidates) in it.
    /// Sized only after the load, at the connection's default 64 MiB, a million items' duplicate
    /// screens (150 MB, in the store until migration 0014) did not fit, and new items read them
    /// back from the file page by page (docs/PERFORMANCE.md, session 23).
    pub async fn for_stored_items(connection: &mut SqliteConnection) -> Result<WriterCache> {
        let stored: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(item), 0) FROM feedback_signals")
            .fetch_one(&mut *connection)
            .await?;
        let mut cache = WriterCache::default();
        cache.fit(connection, stored.max(0) as u64).await?;
        Ok(cache)
    }

    /// Sizes the cache for `items` stored items unless it was sized for nearly as many.
    pub async fn fit(&mut self, connection: &mut SqliteConnection, items: u64) -> Result<()> {
        if self
            .sized_for
            .is_some_and(|sized| items < sized + RESIZE_EVERY_ITEMS)
        {
            return Ok(());
        }
        // A negative size is in KiB; the number is computed here, not taken from a caller.
        let sql = format!("PRAGMA cache_size = -{}", cache_kib(items));
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(connection)
            .await?;
        self.sized_for = Some(items);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{ConnectOptions, sqlite::SqliteConnectOptions};

    #[test]
    fn small_stores_get_the_minimum_and_large_ones_grow_with_their_items() {
        assert_eq!(cache_kib(0), 256 * 1024);
        assert_eq!(cache_kib(400_000), 256 * 1024);
        assert_eq!(cache_kib(1_000_000), 500_000);
        assert_eq!(cache_kib(u64::MAX), u64::MAX >> 10);
    }

    async fn cache_size(connection: &mut SqliteConnection) -> i64 {
        sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(connection)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_connection_is_resized_once_the_store_has_grown_by_a_step() {
        let mut connection = SqliteConnectOptions::new()
            .in_memory(true)
            .connect()
            .await
            .unwrap();
        let mut cache = WriterCache::default();
        cache.fit(&mut connection, 1_000_000).await.unwrap();
        assert_eq!(cache_size(&mut connection).await, -500_000);
        cache.fit(&mut connection, 1_060_000).await.unwrap();
        assert_eq!(
            cache_size(&mut connection).await,
            -500_000,
            "within one step"
        );
        cache.fit(&mut connection, 1_070_000).await.unwrap();
        assert_eq!(cache_size(&mut connection).await, -535_000);
    }

    #[tokio::test]
    async fn a_cache_opened_on_a_large_store_is_sized_for_its_items() {
        let mut connection = SqliteConnectOptions::new()
            .in_memory(true)
            .connect()
            .await
            .unwrap();
        sqlx::query("CREATE TABLE feedback_signals (item INTEGER PRIMARY KEY)")
            .execute(&mut connection)
            .await
            .unwrap();
        WriterCache::for_stored_items(&mut connection)
            .await
            .unwrap();
        assert_eq!(
            cache_size(&mut connection).await,
            -256 * 1024,
            "empty store"
        );
        sqlx::query("INSERT INTO feedback_signals (item) VALUES (1000000)")
            .execute(&mut connection)
            .await
            .unwrap();
        let mut cache = WriterCache::for_stored_items(&mut connection)
            .await
            .unwrap();
        assert_eq!(cache_size(&mut connection).await, -500_000);
        cache.fit(&mut connection, 1_000_000).await.unwrap();
        assert_eq!(
            cache_size(&mut connection).await,
            -500_000,
            "already fitted"
        );
    }
}
