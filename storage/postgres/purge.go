package idempg

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Purge deletes expired records (and expired alert cooldowns), batch rows
// per statement, each statement its own short transaction, until a batch
// comes back short or ctx ends; it returns how many records it deleted.
// Expired records are absent to every call of the store whether or not
// they are purged: purging only reclaims space. Rows a Begin holds at the
// moment are skipped (SKIP LOCKED) and left for the next pass. A batch of
// 0 or less is DefaultPurgeBatch.
func (s *Store) Purge(ctx context.Context, batch int) (int64, error) {
	if batch <= 0 {
		batch = DefaultPurgeBatch
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, s.q.purge, batch)
		if err != nil {
			return total, unavailable(err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			break
		}
	}
	if _, err := s.pool.Exec(ctx, s.q.purgeCooldowns); err != nil {
		return total, unavailable(err)
	}
	return total, nil
}

// purger runs Purge every interval until Close (WithPurgeInterval). A
// failed pass is logged (log/slog's default logger) and retried at the
// next tick.
func (s *Store) purger(every time.Duration, batch int) {
	defer s.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		go func() { // Close cancels a pass under way
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if _, err := s.Purge(ctx, batch); err != nil && ctx.Err() == nil {
			slog.Warn(fmt.Sprintf("idempg: purge of expired records failed: %v", err))
		}
		cancel()
	}
}
