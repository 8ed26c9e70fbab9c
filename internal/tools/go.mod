// Not published: release and packaging tools of the idemkit repository
// (the file-based module proxy the consumer test installs from).
module github.com/idemkit/idempotency/internal/tools

go 1.25.0

require golang.org/x/mod v0.37.0
