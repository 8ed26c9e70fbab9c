package main

import (
	"fmt"
	"io"

	"github.com/bytedance/sonic"
)

// writeJSON writes v as indented JSON (map keys sorted) and a newline.
func writeJSON(w io.Writer, v any) error {
	b, err := sonic.ConfigStd.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// byteSize formats n bytes for people: "812 B", "1.2 KiB", "3.4 MiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
