package core

import (
	"net/http"
	"reflect"
	"strconv"
	"testing"
)

// Header lines as fasthttp lists them (names repeated, not adjacent)
// encode to the same record as the equivalent header map, through
// groupLines, with the header count patched in place.
func TestEncodeLinesMatchesHeaderMap(t *testing.T) {
	for _, extra := range []int{0, 200} { // 200: a count wider than one byte
		lines := []HeaderLine{
			{"Location", "/p/1"}, {"Vary", "A"}, {"Set-Cookie", "s=1"},
			{"Content-Type", "application/json"}, {"Vary", "B"}, {"Date", "x"},
		}
		want := http.Header{"Location": {"/p/1"}, "Vary": {"A", "B"}, "Content-Type": {"application/json"}}
		for i := 0; i < extra; i++ {
			n := "X-H" + strconv.Itoa(i)
			lines = append(lines, HeaderLine{n, "v"})
			want[n] = []string{"v"}
		}
		groupLines(lines)
		enc := append(encodeLinesHead(nil, 201, lines, &headerRules{}, nil, 5), "hello"...)
		got, err := BinarySerializer{}.Decode(enc)
		if err != nil {
			t.Fatalf("extra %d: %v", extra, err)
		}
		if got.Status != 201 || string(got.Body) != "hello" || !reflect.DeepEqual(got.Header, want) {
			t.Fatalf("extra %d: got %d %v %q", extra, got.Status, got.Header, got.Body)
		}
		// The replay path reads the same record without copying.
		p, err := parseBinary(enc, &headerRules{})
		if err != nil || p.status != 201 || string(p.body) != "hello" || p.values != len(want)+1 {
			t.Fatalf("extra %d: parseBinary = %+v, %v", extra, p, err)
		}
	}
}

// A corrupt record is refused whole by parseBinary, before any header
// would be set.
func TestParseBinaryRefusesTruncated(t *testing.T) {
	enc := encodeBinary(nil, 200, http.Header{"Location": {"/a"}}, &headerRules{}, nil, []byte("body"))
	for i := 0; i < len(enc); i++ {
		if _, err := parseBinary(enc[:i], &headerRules{}); err == nil {
			t.Fatalf("truncated at %d of %d: accepted", i, len(enc))
		}
	}
}
