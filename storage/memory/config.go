package memory

import "time"

// Default bounds. A store holds at most DefaultMaxEntries records and
// DefaultMaxBytes accounted bytes, whichever it reaches first. With the
// default 24 h TTL the entry bound covers about 1.1 requests/s of unique
// keys; see the package documentation for sizing.
const (
	DefaultMaxEntries = 100_000
	DefaultMaxBytes   = 256 << 20 // 256 MiB

	shardCount = 64
)

// EntryOverhead is the number of bytes a record costs beyond its key and
// its stored response: the entry itself (144 bytes), its map slot (24
// bytes of key and value at a load factor between 7/16 and 7/8) and, for
// a claim, its heap slot; measured at 179-194 bytes on Go 1.26 for amd64.
// The byte bound accounts every record as EntryOverhead + len(key) +
// cap(payload), objects over 32 KiB rounded up to whole 8 KiB pages as Go
// allocates them; smaller ones are rounded up to a size class (at most
// 12.5% more, a few percent on average), which is not counted.
const EntryOverhead = 200

type config struct {
	maxEntries int64
	maxBytes   int64
	now        func() time.Time
}

// Option configures a Store.
type Option func(*config)

// WithMaxEntries bounds the number of records (default DefaultMaxEntries,
// 100,000; zero or a negative n keeps the default: the store is always
// bounded). See WithMaxBytes for what happens at the bound.
func WithMaxEntries(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxEntries = int64(n)
		}
	}
}

// WithMaxBytes bounds the memory the records take, counted as
// EntryOverhead + len(key) + cap(payload) per record (default
// DefaultMaxBytes, 256 MiB; zero or a negative n keeps the default). Keep
// it well above the Engine's MaxResponseBytes: a response larger than the
// whole bound is not stored.
//
// When either bound is reached, the store first reclaims every expired
// record (and every uncommitted in-flight claim whose lease has expired,
// whose owner is presumed dead); if that is not enough it evicts the final
// records (completed, tombstones, uncertain) closest to their expiry,
// first from the shard of the new record, then from the others. Evicting
// a final record before its TTL makes a re-run possible, so it is counted
// in Stats and, when Begin made it, reported in BeginResult.Evicted (the
// Engine's EventRecordEvicted). A live claim is never evicted, nor is a
// committed claim before its TTL even once its lease has expired (Begin
// turns it uncertain): a store full of them refuses new claims with
// ErrFull.
func WithMaxBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBytes = n
		}
	}
}

// WithClock sets the time source, for tests. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}
