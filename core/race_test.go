//go:build race

package core_test

// raceEnabled is true under -race, whose sync.Pool drops items at random:
// allocation counts are not comparable there.
const raceEnabled = true
