package refcanon

import (
	"fmt"
	"strings"
)

// Ignore is a compiled set of member paths that Canon.Append leaves out.
// A nil *Ignore leaves nothing out. It is immutable, so one may serve any
// number of Canons at once.
type Ignore struct {
	root *ignoreNode
}

// ignoreNode is one level of the ignored-field paths, compiled into a trie.
// "*" matches any object key or array element.
type ignoreNode struct {
	children map[string]*ignoreNode
	star     *ignoreNode
	terminal bool // the path ends here: leave this member out
}

// CompileIgnore compiles dotted member paths, "*" standing for any key or
// array element: "metadata.client_request_id", "items.*.timestamp".
// Segments match keys exactly (after unescaping) and case-sensitively.
// A path that is empty or has an empty segment is an error. No paths
// compile to nil.
func CompileIgnore(paths ...string) (*Ignore, error) {
	for _, p := range paths {
		if p == "" || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..") {
			return nil, fmt.Errorf("bad path %q: empty, or with an empty segment", p)
		}
	}
	if len(paths) == 0 {
		return nil, nil
	}
	root := &ignoreNode{}
	for _, p := range paths {
		n := root
		for _, part := range strings.Split(p, ".") {
			var next *ignoreNode
			if part == "*" {
				if n.star == nil {
					n.star = &ignoreNode{}
				}
				next = n.star
			} else {
				if n.children == nil {
					n.children = map[string]*ignoreNode{}
				}
				if next = n.children[part]; next == nil {
					next = &ignoreNode{}
					n.children[part] = next
				}
			}
			n = next
		}
		n.terminal = true
	}
	return &Ignore{root: root}, nil
}

// activeSet holds the trie nodes that the current JSON position matches.
// Wildcards make it a set; four slots cover any realistic configuration
// without allocating, and further matches are dropped.
type activeSet struct {
	n     int
	nodes [4]*ignoreNode
}

func (a *activeSet) add(n *ignoreNode) {
	if n != nil && a.n < len(a.nodes) {
		a.nodes[a.n] = n
		a.n++
	}
}

// step moves to a member named key (or, for arrays, any element) and
// reports whether that member is ignored.
func (a activeSet) step(key string, element bool) (next activeSet, skip bool) {
	for _, n := range a.nodes[:a.n] {
		if !element {
			if c := n.children[key]; c != nil {
				skip = skip || c.terminal
				next.add(c)
			}
		}
		if n.star != nil {
			skip = skip || (n.star.terminal && !element)
			next.add(n.star)
		}
	}
	return next, skip
}
