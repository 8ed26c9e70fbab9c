package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"text/tabwriter"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
)

// scanCount is the COUNT hint of every SCAN: large enough to walk big
// keyspaces quickly, small enough not to stall Redis.
const scanCount = 1000

// statistics is what stats reports on Redis (and its -json form).
type statistics struct {
	Prefix string `json:"prefix"`
	// Nodes is the number of servers scanned (the masters of a cluster).
	Nodes int `json:"nodes"`
	// Records counts idemkit records: InFlight + Completed + Tombstone +
	// Uncertain + UnknownVersion.
	Records  int64 `json:"records"`
	InFlight int64 `json:"in_flight"`
	// LeaseExpired counts the in-flight records whose lease has ended by
	// the server's clock: their owner is presumed dead.
	LeaseExpired int64 `json:"in_flight_lease_expired"`
	// Committed counts the in-flight records whose handler declared
	// irreversible effects; Stranded those of them whose lease has ended
	// (the next request with the key makes them uncertain).
	Committed int64 `json:"in_flight_committed"`
	Stranded  int64 `json:"in_flight_stranded"`
	Completed int64 `json:"completed"`
	// Tombstone counts keys whose handler ran but whose response was not
	// stored; Uncertain keys whose handler may have had effects, then
	// failed. Both wait for an operator (idemctl resolve) or their TTL.
	Tombstone int64 `json:"tombstone"`
	Uncertain int64 `json:"uncertain"`
	// UnknownVersion counts records in a format this tool does not know.
	UnknownVersion int64 `json:"unknown_version"`
	// PayloadBytes sums the stored (encoded) responses.
	PayloadBytes int64 `json:"payload_bytes"`
	CooldownKeys int64 `json:"cooldown_keys"`
	// Other counts keys under prefix+"{" that are not idemkit records.
	Other int64 `json:"other_keys"`
}

func (s *statistics) add(o *statistics) {
	s.Records += o.Records
	s.InFlight += o.InFlight
	s.LeaseExpired += o.LeaseExpired
	s.Committed += o.Committed
	s.Stranded += o.Stranded
	s.Completed += o.Completed
	s.Tombstone += o.Tombstone
	s.Uncertain += o.Uncertain
	s.UnknownVersion += o.UnknownVersion
	s.PayloadBytes += o.PayloadBytes
	s.CooldownKeys += o.CooldownKeys
	s.Other += o.Other
}

func runStats(ctx context.Context, g *globals, args []string, stdout, stderr io.Writer) int {
	var asJSON bool
	ok, code := subcommand("stats", "[-json]", g, args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if !ok {
		return code
	}
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()
	c, err := g.connect()
	if err != nil {
		return fail(stderr, "stats", err)
	}
	defer c.Close()

	st, err := c.stats(ctx)
	if err != nil {
		return fail(stderr, "stats", g.storeErr(ctx, err))
	}
	if asJSON {
		if err := writeJSON(stdout, st); err != nil {
			return fail(stderr, "stats", err)
		}
		return exitOK
	}
	st.print(stdout)
	return exitOK
}

func (c *conn) stats(ctx context.Context) (report, error) { return collectStats(ctx, c) }

// print writes the Redis statistics for people.
func (st *statistics) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "prefix\t%q\n", st.Prefix)
	fmt.Fprintf(tw, "nodes\t%d\n", st.Nodes)
	fmt.Fprintf(tw, "records\t%d\n", st.Records)
	fmt.Fprintf(tw, "  in flight\t%d\t(%d with an expired lease)\n", st.InFlight, st.LeaseExpired)
	fmt.Fprintf(tw, "    committed\t%d\t(%d stranded: lease ended after declaring effects)\n", st.Committed, st.Stranded)
	fmt.Fprintf(tw, "  completed\t%d\n", st.Completed)
	fmt.Fprintf(tw, "  tombstone\t%d\n", st.Tombstone)
	fmt.Fprintf(tw, "  uncertain\t%d\n", st.Uncertain)
	fmt.Fprintf(tw, "  unknown format\t%d\n", st.UnknownVersion)
	fmt.Fprintf(tw, "payload bytes\t%d\t(%s)\n", st.PayloadBytes, byteSize(st.PayloadBytes))
	fmt.Fprintf(tw, "cooldown keys\t%d\n", st.CooldownKeys)
	if st.Other > 0 {
		fmt.Fprintf(tw, "other keys\t%d\t(under the record pattern but not idemkit records)\n", st.Other)
	}
}

// collectStats SCANs every node for records (prefix+"{*") and alert
// cooldowns (prefix+"cooldown:*").
func collectStats(ctx context.Context, c *conn) (*statistics, error) {
	total := &statistics{Prefix: c.prefix}
	var mu sync.Mutex
	records := globEscape(c.prefix) + "{*"
	cooldowns := globEscape(c.prefix) + "cooldown:*"
	nodes, err := c.forEachNode(ctx, func(ctx context.Context, node *redis.Client) error {
		st := &statistics{}
		nowMS := serverTime(ctx, node).UnixMilli()
		if err := scan(ctx, node, records, func(keys []string) error {
			return countRecords(ctx, node, keys, nowMS, st)
		}); err != nil {
			return err
		}
		if err := scan(ctx, node, cooldowns, func(keys []string) error {
			st.CooldownKeys += int64(len(keys))
			return nil
		}); err != nil {
			return err
		}
		mu.Lock()
		total.add(st)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	total.Nodes = nodes
	return total, nil
}

// scan walks the keys of one node matching pattern, a batch at a time.
func scan(ctx context.Context, node *redis.Client, pattern string, fn func(keys []string) error) error {
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, pattern, scanCount).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := fn(keys); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// countRecords reads the version, state, lease end, commitment and
// payload size of a
// batch of keys in one pipeline and adds them to st. Keys that expired
// since the SCAN are skipped.
func countRecords(ctx context.Context, node *redis.Client, keys []string, nowMS int64, st *statistics) error {
	fields := make([]*redis.SliceCmd, len(keys))
	sizes := make([]*redis.IntCmd, len(keys))
	_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			fields[i] = p.HMGet(ctx, k, "v", "s", "l", "c")
			sizes[i] = p.HStrLen(ctx, k, "p")
		}
		return nil
	})
	if err != nil && !redis.HasErrorPrefix(err, "WRONGTYPE") {
		return err
	}
	for i := range keys {
		if err := fields[i].Err(); err != nil {
			if redis.HasErrorPrefix(err, "WRONGTYPE") {
				st.Other++
				continue
			}
			return err
		}
		v := fields[i].Val()
		version, _ := v[0].(string)
		state, _ := v[1].(string)
		if version == "" && state == "" {
			continue // gone since the SCAN, or a hash that is no record
		}
		st.Records++
		if version != knownFormatVersion {
			st.UnknownVersion++
			continue
		}
		switch stateName(version, state) {
		case core.StateInFlight:
			st.InFlight++
			lease, _ := v[2].(string)
			expired := false
			if end, err := strconv.ParseInt(lease, 10, 64); err == nil && end <= nowMS {
				st.LeaseExpired++
				expired = true
			}
			if committed, _ := v[3].(string); committed == "1" {
				st.Committed++
				if expired {
					st.Stranded++
				}
			}
		case core.StateCompleted:
			st.Completed++
			st.PayloadBytes += sizes[i].Val()
		case core.StateTombstone:
			st.Tombstone++
		case core.StateUncertain:
			st.Uncertain++
		default:
			st.UnknownVersion++
		}
	}
	return nil
}
