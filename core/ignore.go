package core

import "strings"

// ignoreNode is one level of the ignored-field paths, compiled into a trie.
// "*" matches any object key or array element.
type ignoreNode struct {
	children map[string]*ignoreNode
	star     *ignoreNode
	terminal bool // the path ends here: leave this member out
}

func compileIgnore(paths []string) *ignoreNode {
	if len(paths) == 0 {
		return nil
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
	return root
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
